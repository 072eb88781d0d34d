import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';
import type { Credit, Payment } from './payment.js';

interface PaymentRow {
  id: number;
  user_id: number;
  kind: Payment['kind'];
  amount: string;
  balance_after: string;
  message_id: number | null;
  refund_of: number | null;
  external_id: string | null;
  currency: string | null;
  note: string | null;
  created_at: Date;
}

interface CreditRow {
  payment_id: number;
  amount: string;
  balance: string;
}

/**
 * Credits a balance and writes the ledger row in one statement: a duplicate `external_id` (Telegram delivering a
 * payment twice) fails the whole statement, so nothing is credited twice. No row when the user does not exist.
 */
const CREDIT = `
WITH credited AS (
  UPDATE users SET balance = balance + $2::numeric, balance_version = balance_version + 1, updated_at = now()
  WHERE id = $1
  RETURNING balance
), entry AS (
  INSERT INTO payments (user_id, kind, amount, balance_after, external_id, currency, note)
  SELECT $1, $3, $2::numeric, credited.balance, $4, $5, $6 FROM credited
  RETURNING id, amount
)
SELECT entry.id AS payment_id, entry.amount, credited.balance FROM credited, entry`;

/** Gives a charge back, once (refund_of is unique). No row when the charge is not this user's. */
const REFUND = `
WITH original AS (
  SELECT id, amount FROM payments WHERE id = $2 AND user_id = $1 AND kind = 'charge'
), credited AS (
  UPDATE users SET balance = users.balance + original.amount, balance_version = balance_version + 1, updated_at = now()
  FROM original WHERE users.id = $1
  RETURNING users.balance, original.amount
), entry AS (
  INSERT INTO payments (user_id, kind, amount, balance_after, refund_of, note)
  SELECT $1, 'refund', credited.amount, credited.balance, $2, $3 FROM credited
  RETURNING id, amount
)
SELECT entry.id AS payment_id, entry.amount, credited.balance FROM credited, entry`;

/** SQL of the payments ledger. */
@Injectable()
export class PaymentsRepository {
  constructor(private readonly db: Database) {}

  async credit(
    userId: number,
    kind: 'payment' | 'topup',
    amount: string,
    details: { externalId?: string; currency?: string; note?: string },
  ): Promise<Credit | null> {
    const { rows } = await this.db.query<CreditRow>(CREDIT, [
      userId,
      amount,
      kind,
      details.externalId ?? null,
      details.currency ?? null,
      details.note ?? null,
    ]);
    return rows[0] ? toCredit(rows[0]) : null;
  }

  async refund(userId: number, chargeId: number, note: string | undefined): Promise<Credit | null> {
    const { rows } = await this.db.query<CreditRow>(REFUND, [userId, chargeId, note ?? null]);
    return rows[0] ? toCredit(rows[0]) : null;
  }

  /** A user's latest ledger rows, newest first. */
  async latest(userId: number, limit: number): Promise<Payment[]> {
    const { rows } = await this.db.query<PaymentRow>(
      'SELECT id, user_id, kind, amount, balance_after, message_id, refund_of, external_id, currency, note, created_at FROM payments WHERE user_id = $1 ORDER BY id DESC LIMIT $2',
      [userId, limit],
    );
    return rows.map((row) => ({
      id: row.id,
      userId: row.user_id,
      kind: row.kind,
      amount: row.amount,
      balanceAfter: row.balance_after,
      messageId: row.message_id,
      refundOf: row.refund_of,
      externalId: row.external_id,
      currency: row.currency,
      note: row.note,
      createdAt: new Date(row.created_at).toISOString(),
    }));
  }
}

function toCredit(row: CreditRow): Credit {
  return { paymentId: row.payment_id, amount: row.amount, balance: row.balance };
}
