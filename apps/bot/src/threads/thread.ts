import type { Attachment } from '../files/attachment.js';

/** A conversation: a private chat, or one forum topic of a group (cached in namespace `thread`). */
export interface Thread {
  /** Database id (the history's cache key). */
  id: number;
  chatId: number;
  /** Who opened it. */
  userId: number;
  /** Telegram's message_thread_id; 0 outside forum topics. */
  threadId: number;
  title: string;
  /** The latest files sent in the thread; the responder sees them with every message. */
  filesContext: Attachment[];
  /** Increases with every files_context change; a cached copy never goes back to an older one. */
  version: number;
}

/** Where a message was posted. */
export interface ThreadRef {
  chatId: number;
  threadId: number;
}

/** The cache key of a thread: `<chat>:<topic>`. */
export const threadKey = (ref: ThreadRef): string => `${ref.chatId}:${ref.threadId}`;
