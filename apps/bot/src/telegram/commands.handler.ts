import { Injectable } from '@nestjs/common';
import { BotConfig } from '../config/bot-config.js';
import type { Invoice } from '../payments/payments.repository.js';
import { MAX_TOP_UP, PaymentsService } from '../payments/payments.service.js';
import { StatsService } from '../stats/stats.service.js';
import { isTimeZone } from '../stats/day-window.js';
import { ModelCatalogue } from '../responder/model-catalogue.service.js';
import { Money } from '../users/money.js';
import type { UserProfile } from '../users/user.js';
import { UsersService } from '../users/users.service.js';

/** A command's answer: text and, for /model, a keyboard of models; for /topup, the invoice to send. */
export interface CommandAnswer {
  text: string;
  keyboard?: { text: string; callback_data: string }[][];
  invoice?: Invoice;
}

/** The free commands: /start, /help, /balance, /model. */
@Injectable()
export class CommandsHandler {
  constructor(
    private readonly users: UsersService,
    private readonly catalogue: ModelCatalogue,
    private readonly config: BotConfig,
    private readonly payments: PaymentsService,
    private readonly stats: StatsService,
  ) {}

  /** Whether `text` is a command (`/name`, `/name@bot`, with arguments). */
  static isCommand(text: string | undefined): text is string {
    return text !== undefined && /^\/[A-Za-z0-9_]+(@\w+)?(\s|$)/.test(text);
  }

  async handle(from: UserProfile, text: string): Promise<CommandAnswer> {
    const [head = '', ...args] = text.trim().split(/\s+/);
    const command = head.slice(1).replace(/@\w+$/, '').toLowerCase();
    const user = await this.users.ensure(from);
    const price = Money.format(this.config.messagePrice);
    switch (command) {
      case 'start':
        return {
          text: `Hi ${user.firstName}! Send me a message, a document, a photo or a voice note and I will answer. Each answer costs ${price}; your balance is ${Money.format(user.balance)}. /help lists the commands.`,
        };
      case 'help':
        return {
          text: "/balance — your balance\n/stats — today's messages, spend and balance\n/timezone <zone> — your day for /stats\n/topup <amount> — add to your balance\n/model — choose a model\n/model <id> — switch to a model\nAnything else I answer, for a price per message.",
        };
      case 'balance':
        return { text: `Your balance is ${Money.format(user.balance)}. A message costs ${price}.` };
      case 'model':
        return this.model(user.id, user.modelId, args[0]);
      case 'stats': {
        const day = await this.stats.today(user.id, user.timezone ?? null);
        return {
          text: `Today (${day.day}, ${day.timeZone}): ${day.messages} message${day.messages === 1 ? '' : 's'}, spent ${day.spend}. Your balance is ${Money.format(day.balance)}.`,
        };
      }
      case 'timezone':
        return { text: await this.setTimezone(user.id, args[0]) };
      case 'topup':
        return this.topUp(user.id, args[0] ?? '5');
      default:
        return { text: `I don't know /${command}. /help lists the commands.` };
    }
  }

  /** Sets a model (from /model <id> or a keyboard button); returns the confirmation. */
  async setModel(userId: number, modelId: string): Promise<string> {
    const models = (await this.catalogue.list()).map((m) => m.id);
    if (!models.includes(modelId)) return `Unknown model "${modelId}". Available: ${models.join(', ')}.`;
    await this.users.setModel(userId, modelId);
    return `Model set to ${modelId}.`;
  }

  private async setTimezone(userId: number, zone: string | undefined): Promise<string> {
    if (zone === undefined || !isTimeZone(zone))
      return 'Usage: /timezone <zone>, an IANA time zone such as Europe/Prague or America/New_York (/timezone UTC to reset).';
    const timezone = zone === 'UTC' ? null : zone;
    await this.users.setTimezone(userId, timezone);
    await this.stats.changed(userId);
    return `Time zone set to ${zone}: /stats counts your day from midnight there.`;
  }

  private async topUp(userId: number, amount: string): Promise<CommandAnswer> {
    const invoice = await this.payments.createInvoice(userId, amount);
    if (!invoice)
      return {
        text: `Usage: /topup <amount>, an amount of ${this.config.paymentCurrency} up to ${MAX_TOP_UP} (e.g. /topup 5).`,
      };
    return { text: `Adds ${Money.format(invoice.amount)} to your balance.`, invoice };
  }

  private async model(userId: number, current: string, requested: string | undefined): Promise<CommandAnswer> {
    if (requested !== undefined) return { text: await this.setModel(userId, requested) };
    const models = await this.catalogue.list();
    return {
      text: `Your model is ${current}. Choose one:`,
      keyboard: [models.map(({ id }) => ({ text: id === current ? `• ${id}` : id, callback_data: `model:${id}` }))],
    };
  }
}
