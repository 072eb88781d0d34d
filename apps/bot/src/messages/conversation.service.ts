import { Injectable, Logger } from '@nestjs/common';
import { BotConfig } from '../config/bot-config.js';
import { isUniqueViolation } from '../database/database.js';
import type { Attachment } from '../files/attachment.js';
import { mergeFilesContext } from '../files/attachment.js';
import { FilesService } from '../files/files.service.js';
import { FileTooLargeError } from '../files/telegram-files.client.js';
import { BotMetrics } from '../metrics/bot-metrics.js';
import { ResponseCache } from '../responder/response-cache.service.js';
import type { ThreadRef } from '../threads/thread.js';
import { ThreadsService } from '../threads/threads.service.js';
import { StatsService } from '../stats/stats.service.js';
import { Money } from '../users/money.js';
import type { User, UserProfile } from '../users/user.js';
import { UsersService } from '../users/users.service.js';
import { MessageHistoryService } from './message-history.service.js';
import { MessagesRepository, STALE_BASIS } from './messages.repository.js';
import { ThreadOrder } from './thread-order.js';

/** Attempts at an exchange whose cached basis turned out stale (the second reads the database's state). */
const MAX_ATTEMPTS = 3;

/** A user's message to answer. */
export interface IncomingChatMessage {
  from: UserProfile;
  where: ThreadRef;
  telegramMessageId: number;
  /** Unix seconds (Telegram's `date`). */
  date: number;
  /** Text or caption ('' for a file alone). */
  text: string;
  attachments: Attachment[];
  /** Title for a thread this message opens. */
  title: string;
}

/** How a message was dealt with. */
export type ConversationOutcome =
  { kind: 'answered'; text: string; balance: string } | { kind: 'refused'; text: string } | { kind: 'duplicate' };

/**
 * The paid exchange, every read through the cache: the balance check comes first (cached user), then the thread,
 * its history and files, the responder, and one atomic SQL statement that charges and stores; the caches are then
 * updated in place (balance, history append, files context) rather than reloaded.
 */
@Injectable()
export class ConversationService {
  private readonly logger = new Logger(ConversationService.name);

  constructor(
    private readonly order: ThreadOrder,
    private readonly config: BotConfig,
    private readonly users: UsersService,
    private readonly threads: ThreadsService,
    private readonly history: MessageHistoryService,
    private readonly messages: MessagesRepository,
    private readonly files: FilesService,
    private readonly responses: ResponseCache,
    private readonly metrics: BotMetrics,
    private readonly stats: StatsService,
  ) {}

  async handle(message: IncomingChatMessage): Promise<ConversationOutcome> {
    const price = this.config.messagePrice;
    let user = await this.users.ensure(message.from);
    if (Money.lessThan(user.balance, price)) {
      // The cached balance may lag a credit made on another instance: refuse only on the database's word.
      user = (await this.users.fromDatabase(user.id)) ?? user;
      if (Money.lessThan(user.balance, price)) return this.refuseForBalance(user.firstName, user.balance);
    }
    const asker = user;
    return this.order.run(message.where, async () => {
      for (let attempt = 1; ; attempt++) {
        const outcome = await this.exchange(message, asker, price);
        if (outcome !== STALE_BASIS) return outcome;
        // The cached history or thread missed a change (an instance died between its commit and its cache update,
        // or Redis lost a write): drop both and answer again from the database's state.
        if (attempt === MAX_ATTEMPTS) throw new Error(`thread history stayed stale after ${MAX_ATTEMPTS} attempts`);
        this.logger.warn(`cached history of a thread was stale: reloading it (attempt ${attempt})`);
        await this.threads.forget(message.where);
        const thread = await this.threads.find(message.where);
        if (thread) await this.history.changed(thread.id);
      }
    });
  }

  /** One attempt at the exchange, inside the thread's order. */
  private async exchange(
    message: IncomingChatMessage,
    user: User,
    price: string,
  ): Promise<ConversationOutcome | typeof STALE_BASIS> {
    const thread = await this.threads.ensure(message.where, user.id, message.title);
    const [history, files] = await Promise.all([
      this.history.recent(thread.id),
      this.fileSummaries(mergeFilesContext(thread.filesContext, message.attachments)),
    ]);
    if (files.kind === 'too-large') {
      return {
        kind: 'refused',
        text: `Sorry, ${files.name} is too large for me to read (limit ${files.limit} bytes). You have not been charged.`,
      };
    }
    const answer = await this.responses.answer({
      user: { id: user.id, firstName: user.firstName, modelId: user.modelId, languageCode: user.languageCode },
      thread: { id: thread.id, title: thread.title },
      history,
      message: { text: message.text, attachmentCount: message.attachments.length },
      files: files.summaries,
    });
    let result;
    try {
      result = await this.messages.recordExchange({
        userId: user.id,
        price,
        threadId: thread.id,
        telegramMessageId: message.telegramMessageId,
        question: { text: message.text, attachments: message.attachments, date: message.date },
        answer: { text: answer, date: Math.floor(Date.now() / 1000) },
        basis: { lastMessageId: history.at(-1)?.id ?? 0, threadVersion: thread.version },
      });
    } catch (err) {
      // Telegram re-delivered an update we already answered: the statement rolled back whole, nothing charged twice.
      if (isUniqueViolation(err)) return { kind: 'duplicate' };
      throw err;
    }
    if (result === STALE_BASIS) return STALE_BASIS;
    if (!result) {
      // The cached balance looked sufficient but a concurrent charge (or another instance) spent it first.
      // The cache may not have the other charge's balance yet: ask the database.
      const fresh = await this.users.fromDatabase(user.id);
      return this.refuseForBalance(user.firstName, fresh?.balance ?? user.balance);
    }
    await Promise.all([
      this.users.balanceChanged(user.id, result.balance, result.balanceVersion),
      this.stats.changed(user.id),
      this.history.appended(thread.id, [result.question, result.answer]),
      result.files ? this.threads.filesChanged(message.where, result.files.context, result.files.version) : undefined,
    ]);
    this.metrics.charge(price);
    return { kind: 'answered', text: answer, balance: result.balance };
  }

  /** An edit of a stored user message: the text changes, the cached history is dropped. No charge, no reply. */
  async edit(where: ThreadRef, telegramMessageId: number, text: string): Promise<boolean> {
    const thread = await this.threads.find(where);
    if (!thread) return false;
    return this.order.run(where, async () => {
      const changed = await this.messages.editText(thread.id, telegramMessageId, text);
      if (changed) await this.history.changed(thread.id);
      return changed;
    });
  }

  private refuseForBalance(firstName: string, balance: string): ConversationOutcome {
    const price = Money.format(this.config.messagePrice);
    return {
      kind: 'refused',
      text: `Sorry, ${firstName}, your balance (${Money.format(balance)}) does not cover a message (${price}). Please top up to continue; you have not been charged.`,
    };
  }

  private async fileSummaries(files: Attachment[]) {
    try {
      return { kind: 'ok' as const, summaries: await Promise.all(files.map((file) => this.files.summarize(file))) };
    } catch (err) {
      if (!(err instanceof FileTooLargeError)) throw err;
      this.logger.warn(err.message);
      const file = files.find((f) => f.fileId === err.fileId);
      return { kind: 'too-large' as const, name: file?.fileName ?? 'this file', limit: err.limit };
    }
  }
}
