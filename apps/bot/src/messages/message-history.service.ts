import { Injectable } from '@nestjs/common';
import { CacheService } from 'nestjs-tiercache';
import { BotConfig } from '../config/bot-config.js';
import type { ChatMessage } from './chat-message.js';
import { MessagesRepository } from './messages.repository.js';

/**
 * A thread's recent history as a capped cached list (namespace `messages`, key = thread id): loaded once from
 * PostgreSQL, then kept current by atomic appends.
 */
@Injectable()
export class MessageHistoryService {
  constructor(
    private readonly cache: CacheService,
    private readonly repository: MessagesRepository,
    private readonly config: BotConfig,
  ) {}

  /** The last HISTORY_LIMIT messages, oldest first. */
  async recent(threadId: number): Promise<ChatMessage[]> {
    const limit = this.config.historyLimit;
    return this.cache.getOrSetList('messages', threadId, () => this.repository.lastMessages(threadId, limit), {
      maxLength: limit,
    });
  }

  /** After messages were committed: appended to the cached list (nothing happens if it is not cached). */
  async appended(threadId: number, messages: readonly ChatMessage[]): Promise<void> {
    await this.cache.append('messages', threadId, messages, { maxLength: this.config.historyLimit });
  }

  /** After a stored message changed: the next read reloads the list. */
  async changed(threadId: number): Promise<void> {
    await this.cache.delete('messages', threadId);
  }
}
