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
}
