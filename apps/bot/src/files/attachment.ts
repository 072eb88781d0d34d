/** A file sent with a message, as Telegram describes it (the bytes are fetched by `fileId`). */
export interface Attachment {
  kind: 'document' | 'photo' | 'voice';
  fileId: string;
  /** Stable across bots and re-sends; used to de-duplicate a thread's files. */
  fileUniqueId: string;
  fileSize?: number;
  fileName?: string;
  mimeType?: string;
  /** Seconds, for voice messages. */
  duration?: number;
}

/** How many files a thread keeps in its context (the latest ones). */
export const FILES_CONTEXT_LIMIT = 5;

/**
 * The thread's files after `added` arrive: earlier copies of the same file move to the end, and only the last
 * {@link FILES_CONTEXT_LIMIT} stay. Mirrors the SQL in MessagesRepository#recordExchange.
 * @example mergeFilesContext([a, b], [a]) // [b, a]
 */
export function mergeFilesContext(current: readonly Attachment[], added: readonly Attachment[]): Attachment[] {
  const addedIds = new Set(added.map((file) => file.fileUniqueId));
  return [...current.filter((file) => !addedIds.has(file.fileUniqueId)), ...added].slice(-FILES_CONTEXT_LIMIT);
}
