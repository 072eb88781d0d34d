import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';
import type { Attachment } from '../files/attachment.js';
import { FILES_CONTEXT_LIMIT } from '../files/attachment.js';
import type { ChatMessage } from './chat-message.js';

/** One question and its answer, to be stored and paid for together. */
export interface Exchange {
  userId: number;
  /** Exact decimal. */
  price: string;
  /** Database id of the thread. */
  threadId: number;
  telegramMessageId: number;
  question: { text: string; attachments: Attachment[]; date: number };
  answer: { text: string; date: number };
  /** What the answer was based on: the id of the last message of the history (0: none) and the thread's version. */
  basis: { lastMessageId: number; threadVersion: number };
}

/** Nothing was written: the history or thread the answer was based on is older than the database's. */
export const STALE_BASIS = 'stale' as const;

/** What a committed exchange changed. */
export interface ExchangeResult {
  balance: string;
  balanceVersion: number;
  question: ChatMessage;
  answer: ChatMessage;
  chargeId: number;
  /** The thread's new files context, when the question brought files. */
  files: { context: Attachment[]; version: number } | null;
}

interface ExchangeRow {
  fresh: boolean;
  balance: string | null;
  balance_version: number | null;
  question_id: number | null;
  answer_id: number | null;
  charge_id: number | null;
  files_context: Attachment[] | null;
  files_version: number | null;
}

interface MessageRow {
  id: number;
  role: 'user' | 'assistant';
  text: string;
  attachments: Attachment[];
  date: number;
}

/**
 * One statement, so one round trip and atomic: check that the answer was based on the thread as the database has it
 * (no message after the history's last, the same files version: a cached history that missed an append — an instance
 * killed between its commit and its append — is caught here), charge the user only if the balance covers the price, store the
 * question and the answer (the answer reads the question's row, so its id is larger), write the charge into the
 * ledger, and merge new files into the thread's context. If the balance is short nothing at all is written.
 */
const RECORD_EXCHANGE = `
WITH fresh AS (
  SELECT NOT EXISTS (SELECT 1 FROM messages WHERE thread_id = $3 AND id > $11)
     AND EXISTS (SELECT 1 FROM threads WHERE id = $3 AND version = $12) AS ok
), charged AS (
  UPDATE users SET balance = balance - $2::numeric, balance_version = balance_version + 1, updated_at = now()
  WHERE id = $1 AND balance >= $2::numeric AND (SELECT ok FROM fresh)
  RETURNING balance, balance_version
), question AS (
  INSERT INTO messages (thread_id, user_id, role, tg_message_id, text, attachments, date)
  SELECT $3, $1, 'user', $4, $5, $6::jsonb, to_timestamp($7) FROM charged
  RETURNING id
), answer AS (
  INSERT INTO messages (thread_id, role, text, date)
  SELECT $3, 'assistant', $8, to_timestamp($9) FROM question
  RETURNING id
), charge AS (
  INSERT INTO payments (user_id, kind, amount, balance_after, message_id)
  SELECT $1, 'charge', $2::numeric, charged.balance, question.id FROM charged, question
  RETURNING id
), files AS (
  UPDATE threads SET
    files_context = (
      SELECT coalesce(jsonb_agg(e ORDER BY n), '[]'::jsonb) FROM (
        SELECT e, n FROM jsonb_array_elements(
          (SELECT coalesce(jsonb_agg(o ORDER BY i), '[]'::jsonb)
             FROM jsonb_array_elements(threads.files_context) WITH ORDINALITY AS old(o, i)
            WHERE NOT (o->>'fileUniqueId' = ANY($10::text[]))) || $6::jsonb
        ) WITH ORDINALITY AS merged(e, n)
        ORDER BY n DESC LIMIT ${FILES_CONTEXT_LIMIT}
      ) latest
    ),
    version = version + 1, updated_at = now()
  WHERE id = $3 AND cardinality($10::text[]) > 0 AND EXISTS (SELECT 1 FROM charge)
  RETURNING files_context, version
)
SELECT fresh.ok AS fresh, charged.balance, charged.balance_version, question.id AS question_id,
       answer.id AS answer_id, charge.id AS charge_id,
       (SELECT files_context FROM files) AS files_context, (SELECT version FROM files) AS files_version
FROM fresh LEFT JOIN (charged CROSS JOIN question CROSS JOIN answer CROSS JOIN charge) ON true`;

/** SQL of the messages table. */
@Injectable()
export class MessagesRepository {
  constructor(private readonly db: Database) {}

  /**
   * Stores and charges an exchange; null when the balance did not cover the price, {@link STALE_BASIS} when the
   * answer was based on an outdated history or thread (nothing written either way).
   */
  async recordExchange(exchange: Exchange): Promise<ExchangeResult | typeof STALE_BASIS | null> {
    const { question, answer } = exchange;
    const { rows } = await this.db.query<ExchangeRow>(RECORD_EXCHANGE, [
      exchange.userId,
      exchange.price,
      exchange.threadId,
      exchange.telegramMessageId,
      question.text,
      JSON.stringify(question.attachments),
      question.date,
      answer.text,
      answer.date,
      question.attachments.map((file) => file.fileUniqueId),
      exchange.basis.lastMessageId,
      exchange.basis.threadVersion,
    ]);
    const row = rows[0];
    if (!row?.fresh) return STALE_BASIS;
    if (
      row.balance === null ||
      row.balance_version === null ||
      row.question_id === null ||
      row.answer_id === null ||
      row.charge_id === null
    )
      return null;
    return {
      balance: row.balance,
      balanceVersion: row.balance_version,
      question: {
        id: row.question_id,
        role: 'user',
        text: question.text,
        attachments: question.attachments,
        date: question.date,
      },
      answer: { id: row.answer_id, role: 'assistant', text: answer.text, attachments: [], date: answer.date },
      chargeId: row.charge_id,
      files:
        row.files_context && row.files_version !== null
          ? { context: row.files_context, version: row.files_version }
          : null,
    };
  }

  /** The last `limit` messages of a thread, oldest first. */
  async lastMessages(threadId: number, limit: number): Promise<ChatMessage[]> {
    const { rows } = await this.db.query<MessageRow>(
      `SELECT id, role, text, attachments, date FROM (
         SELECT id, role, text, attachments, extract(epoch FROM date)::int8 AS date FROM messages WHERE thread_id = $1 ORDER BY id DESC LIMIT $2
       ) latest ORDER BY id`,
      [threadId, limit],
    );
    return rows.map((row) => ({
      id: row.id,
      role: row.role,
      text: row.text,
      attachments: row.attachments,
      date: row.date,
    }));
  }

  /** Applies an edit of a user message; false when it is not stored (e.g. it was refused). */
  async editText(threadId: number, telegramMessageId: number, text: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      "UPDATE messages SET text = $3, edited_at = now() WHERE thread_id = $1 AND tg_message_id = $2 AND role = 'user'",
      [threadId, telegramMessageId, text],
    );
    return rowCount > 0;
  }
}
