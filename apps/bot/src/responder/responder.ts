import type { FileSummary } from '../files/files.service.js';
import type { ChatMessage } from '../messages/chat-message.js';

/** Everything a responder may use to answer one message. */
export interface ResponderContext {
  user: { id: number; firstName: string; modelId: string };
  thread: { id: number; title: string };
  /** The thread's latest messages before this one, oldest first (at most HISTORY_LIMIT). */
  history: readonly ChatMessage[];
  /** The new message. */
  message: { text: string; attachmentCount: number };
  /** The thread's files (including this message's), oldest first. */
  files: readonly FileSummary[];
}

/**
 * Produces the bot's reply. Bind another implementation to this class to plug in a real model:
 * `{ provide: Responder, useClass: MyLlmResponder }`.
 */
export abstract class Responder {
  /** Model ids this responder accepts (the /model menu). */
  abstract readonly models: readonly string[];
  abstract respond(context: ResponderContext): Promise<string>;

  /**
   * The part of the context (besides the normalized question and the model) that the answer depends on, for the
   * response cache key; `null` means "never cache this answer". The default is conservative: the user's name, the
   * thread's history and its files — so a cached answer is only reused where the responder would answer the same.
   */
  cacheContext(context: ResponderContext): string | null {
    return JSON.stringify([
      context.user.firstName,
      context.history.map((m) => [m.role, m.text]),
      context.files.map((f) => [f.name, f.size, f.head]),
      context.message.attachmentCount,
    ]);
  }
}
