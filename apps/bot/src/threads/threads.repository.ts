import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';
import type { Attachment } from '../files/attachment.js';
import type { Thread, ThreadRef } from './thread.js';

interface ThreadRow {
  id: number;
  chat_id: number;
  user_id: number;
  thread_id: number;
  title: string;
  files_context: Attachment[];
  version: number;
}

const COLUMNS = 'id, chat_id, user_id, thread_id, title, files_context, version';

/** SQL of the threads table. */
@Injectable()
export class ThreadsRepository {
  constructor(private readonly db: Database) {}

  async find(ref: ThreadRef): Promise<Thread | null> {
    const { rows } = await this.db.query<ThreadRow>(
      `SELECT ${COLUMNS} FROM threads WHERE chat_id = $1 AND thread_id = $2`,
      [ref.chatId, ref.threadId],
    );
    return rows[0] ? toThread(rows[0]) : null;
  }

  /** Opens the thread, or returns it if it exists (one round trip); `title` replaces the old one only when `renamed`. */
  async open(ref: ThreadRef, userId: number, title: string, renamed: boolean): Promise<Thread> {
    const { rows } = await this.db.query<ThreadRow>(
      `INSERT INTO threads (chat_id, thread_id, user_id, title) VALUES ($1, $2, $3, $4)
       ON CONFLICT (chat_id, thread_id) DO UPDATE SET title = CASE WHEN $5::boolean THEN EXCLUDED.title ELSE threads.title END, updated_at = now()
       RETURNING ${COLUMNS}`,
      [ref.chatId, ref.threadId, userId, title, renamed],
    );
    const row = rows[0];
    if (!row) throw new Error('INSERT ... RETURNING gave no row');
    return toThread(row);
  }

  /** Renames a thread that exists; false when there is none. */
  async rename(ref: ThreadRef, title: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      'UPDATE threads SET title = $3, updated_at = now() WHERE chat_id = $1 AND thread_id = $2',
      [ref.chatId, ref.threadId, title],
    );
    return rowCount > 0;
  }
}

function toThread(row: ThreadRow): Thread {
  return {
    id: row.id,
    chatId: row.chat_id,
    userId: row.user_id,
    threadId: row.thread_id,
    title: row.title,
    filesContext: row.files_context,
    version: row.version,
  };
}
