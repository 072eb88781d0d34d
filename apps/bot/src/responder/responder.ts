import type { FileSummary } from '../files/files.service.js';
import type { ChatMessage } from '../messages/chat-message.js';

/** Everything a responder may use to answer one message. */
export interface ResponderContext {
  user: { id: number; firstName: string; modelId: string; languageCode: string | null };
  thread: { id: number; title: string };
  /** The thread's latest messages before this one, oldest first (at most HISTORY_LIMIT). */
  history: readonly ChatMessage[];
  /** The new message. */
  message: { text: string; attachmentCount: number };
  /** The thread's files (including this message's, which come last), oldest first. */
  files: readonly FileSummary[];
}

/**
 * What a cached answer is reused for (see ResponseCache):
 * - `question`: the same normalized question (and the files sent with it) with the same settings — model and
 *   language — anywhere, in any chat (the seed bots' response cache). For answers that depend on nothing else.
 * - `conversation`: only in the same conversation state — the asker's name, the thread's history and files are in
 *   the key too. For responders whose answers depend on the context (most LLM chats).
 * - `none`: never cached.
 */
export type ResponseCacheScope = 'question' | 'conversation' | 'none';

/**
 * Produces the bot's reply. Bind another implementation to this class to plug in a real model:
 * `{ provide: Responder, useClass: MyLlmResponder }`.
 */
export abstract class Responder {
  /** Model ids this responder accepts (the /model menu). */
  abstract readonly models: readonly string[];
  /** How far a cached answer of this responder may be reused. @default 'question' */
  readonly cacheScope: ResponseCacheScope = 'question';
  abstract respond(context: ResponderContext): Promise<string>;
}
