import { Injectable } from '@nestjs/common';
import { BotConfig } from '../config/bot-config.js';
import { ConversationService } from '../messages/conversation.service.js';
import { BotMetrics } from '../metrics/bot-metrics.js';
import { PaymentsService } from '../payments/payments.service.js';
import { ThreadsService } from '../threads/threads.service.js';
import { Money } from '../users/money.js';
import { UsersService } from '../users/users.service.js';
import { CommandsHandler } from './commands.handler.js';
import type { ParsedMessage, ParsedUpdate } from './parsed-update.js';
import type { WebhookReply } from './webhook-reply.js';
import { sendMessage } from './webhook-reply.js';

/** Routes a validated update to the feature that handles it and builds the webhook reply (or none). */
@Injectable()
export class TelegramService {
  constructor(
    private readonly conversation: ConversationService,
    private readonly commands: CommandsHandler,
    private readonly users: UsersService,
    private readonly threads: ThreadsService,
    private readonly payments: PaymentsService,
    private readonly metrics: BotMetrics,
    private readonly config: BotConfig,
  ) {}

  async handle(update: ParsedUpdate): Promise<WebhookReply | undefined> {
    switch (update.type) {
      case 'message':
        return this.message(update.message);
      case 'edited_message':
        if (update.message.from && update.message.text !== undefined)
          await this.conversation.edit(
            { chatId: update.message.chat.id, threadId: update.message.threadId },
            update.message.messageId,
            update.message.text,
          );
        return undefined;
      case 'callback_query': {
        const { query } = update;
        let text: string | undefined;
        if (query.data?.startsWith('model:')) {
          await this.users.ensure(query.from);
          text = await this.commands.setModel(query.from.id, query.data.slice('model:'.length));
        }
        return this.replied(
          { method: 'answerCallbackQuery', callback_query_id: query.id, ...(text ? { text } : {}) },
          'info',
        );
      }
      case 'pre_checkout_query': {
        const { query } = update;
        const ok =
          query.totalAmount > 0 &&
          (await this.payments.acceptsCheckout(query.from.id, query.payload, query.currency, query.totalAmount));
        return this.replied(
          {
            method: 'answerPreCheckoutQuery',
            pre_checkout_query_id: query.id,
            ok,
            ...(ok ? {} : { error_message: 'This payment cannot be accepted.' }),
          },
          'info',
        );
      }
      case 'ignored':
        return undefined;
    }
  }

  private async message(m: ParsedMessage): Promise<WebhookReply | undefined> {
    if (!m.from || m.from.isBot) return undefined;
    const where = { chatId: m.chat.id, threadId: m.threadId };
    const reply = (text: string, outcome: 'answered' | 'refused' | 'info', extra = {}) =>
      this.replied(sendMessage(m.chat.id, m.threadId, m.messageId, text, extra), outcome);
    switch (m.content.kind) {
      case 'topic-created':
        await this.users.ensure(m.from);
        await this.threads.open(where, m.from.id, m.content.name, true);
        return undefined;
      case 'topic-edited':
        if (m.content.name !== undefined) await this.threads.rename(where, m.content.name);
        return undefined;
      case 'payment': {
        const { currency, totalAmount, payload, telegramChargeId } = m.content;
        await this.users.ensure(m.from);
        const credit = await this.payments.recordTelegramPayment(
          m.from.id,
          payload,
          currency,
          totalAmount,
          telegramChargeId,
        );
        if (!credit) return undefined;
        return reply(
          `Thank you! ${Money.format(credit.amount)} added; your balance is ${Money.format(credit.balance)}.`,
          'info',
        );
      }
      case 'unsupported':
        return reply(
          `Sorry, I can't read ${m.content.what.replace(/_/g, ' ')} yet: send me text, a document, a photo or a voice message. You have not been charged.`,
          'refused',
        );
      case 'text':
      case 'files':
        break;
    }
    if (CommandsHandler.isCommand(m.text)) {
      const answer = await this.commands.handle(m.from, m.text);
      if (answer.invoice)
        return this.replied(
          {
            method: 'sendInvoice',
            chat_id: m.chat.id,
            ...(m.threadId !== 0 ? { message_thread_id: m.threadId } : {}),
            title: 'Balance top-up',
            description: answer.text,
            payload: answer.invoice.payload,
            provider_token: this.config.paymentProviderToken,
            currency: answer.invoice.currency,
            prices: [{ label: 'Top-up', amount: answer.invoice.totalAmount }],
          },
          'info',
        );
      return reply(answer.text, 'info', answer.keyboard ? { reply_markup: { inline_keyboard: answer.keyboard } } : {});
    }
    const outcome = await this.conversation.handle({
      from: m.from,
      where,
      telegramMessageId: m.messageId,
      date: m.date,
      text: m.text ?? '',
      attachments: m.attachments,
      title:
        m.chat.type === 'private'
          ? `Chat with ${m.from.firstName}`
          : (m.chat.title ?? `Chat ${m.chat.id}`) + (m.threadId !== 0 ? ` / topic ${m.threadId}` : ''),
    });
    if (outcome.kind === 'duplicate') return undefined;
    return reply(outcome.text, outcome.kind);
  }

  private replied(reply: WebhookReply, outcome: 'answered' | 'refused' | 'info'): WebhookReply {
    this.metrics.reply(reply.method, outcome);
    return reply;
  }
}
