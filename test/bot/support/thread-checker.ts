import { expect } from '@jest/globals';
import type { Attachment } from '../../../apps/bot/src/files/attachment.js';
import { mergeFilesContext } from '../../../apps/bot/src/files/attachment.js';
import { summarize } from '../../../apps/bot/src/files/files.service.js';
import { fileBytes } from '../../../apps/bot/src/files/telegram-files.client.js';
import type { ChatMessage } from '../../../apps/bot/src/messages/chat-message.js';
import { LocalResponder } from '../../../apps/bot/src/responder/local.responder.js';
import type { TestDatabase } from './test-database.js';

export interface MessageRow {
  id: number;
  role: 'user' | 'assistant';
  text: string;
  user_id: number | null;
  tg_message_id: number | null;
  attachments: Attachment[];
  date: number;
}

/** A thread's stored messages, oldest first. */
export async function threadMessages(db: TestDatabase, threadId: number): Promise<MessageRow[]> {
  return db.query<MessageRow & Record<string, unknown>>(
    'SELECT id, role, text, user_id, tg_message_id, attachments, extract(epoch FROM date)::int8 AS date FROM messages WHERE thread_id = $1 ORDER BY id',
    [threadId],
  );
}

export const toChatMessage = (row: MessageRow): ChatMessage => ({
  id: row.id,
  role: row.role,
  text: row.text,
  attachments: row.attachments,
  date: row.date,
});

/**
 * Recomputes, from what PostgreSQL stored, the reply every question of a thread must have had: the local
 * responder fed with exactly the `historyLimit` messages before it and the thread's files at that point. Checks the
 * stored answers and (when given) the replies the webhook returned. Returns the number of exchanges checked.
 */
export async function checkThreadReplies(options: {
  db: TestDatabase;
  threadId: number;
  title: string;
  historyLimit: number;
  users: Map<number, { firstName: string }>;
  /** Model of the asker at each question (default echo-1). */
  modelAt?: (question: MessageRow) => string;
  /** Replies the webhook returned, by Telegram message id of the question. */
  replies?: Map<number, string>;
}): Promise<number> {
  const rows = await threadMessages(options.db, options.threadId);
  const responder = new LocalResponder({ context: true });
  expect(rows.length % 2).toBe(0);
  let files: Attachment[] = [];
  for (let i = 0; i < rows.length; i += 2) {
    const question = rows[i]!;
    const answer = rows[i + 1]!;
    expect(question.role).toBe('user');
    expect(answer.role).toBe('assistant');
    expect(answer.id).toBeGreaterThan(question.id);
    files = mergeFilesContext(files, question.attachments);
    const asker = options.users.get(question.user_id!)!;
    const expected = await responder.respond({
      user: {
        id: question.user_id!,
        firstName: asker.firstName,
        modelId: options.modelAt?.(question) ?? 'echo-1',
        languageCode: 'en',
      },
      thread: { id: options.threadId, title: options.title },
      history: rows.slice(Math.max(0, i - options.historyLimit), i).map(toChatMessage),
      message: { text: question.text, attachmentCount: question.attachments.length },
      files: files.map((f) => summarize(f, fileBytes(f.fileId, f.fileSize ?? 64 * 1024))),
    });
    expect(answer.text).toBe(expected);
    if (options.replies) expect(options.replies.get(question.tg_message_id!)).toBe(expected);
  }
  return rows.length / 2;
}
