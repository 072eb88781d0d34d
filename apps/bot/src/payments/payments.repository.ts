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

/**
 * Credits a Telegram payment only against an invoice the bot issued to this user, in its currency and total, not yet
 * paid: the credit is the invoice's amount (never what the update claims). The invoice row is locked, so a payment
 * delivered twice at once is credited once (and `external_id` is unique besides). No row: no such open invoice.
 */
const CREDIT_INVOICE = `
WITH invoice AS (
  SELECT id, amount FROM invoices
  WHERE payload = $2 AND user_id = $1 AND currency = $3 AND total_amount = $4 AND payment_id IS NULL
  FOR UPDATE
), credited AS (
  UPDATE users SET balance = users.balance + invoice.amount, balance_version = balance_version + 1, updated_at = now()
  FROM invoice WHERE users.id = $1
  RETURNING users.balance, invoice.amount, invoice.id AS invoice_id
), entry AS (
  INSERT INTO payments (user_id, kind, amount, balance_after, external_id, currency)
  SELECT $1, 'payment', credited.amount, credited.balance, $5, $3 FROM credited
  RETURNING id, amount
), paid AS (
  UPDATE invoices SET payment_id = entry.id FROM entry, credited WHERE invoices.id = credited.invoice_id
  RETURNING invoices.id
)
SELECT entry.id AS payment_id, entry.amount, credited.balance FROM credited, entry, paid`;

/** An invoice the bot issued. */
export interface Invoice {
  payload: string;
  currency: string;
  /** In the currency's smallest unit. */
  totalAmount: number;
  /** Exact decimal credited when paid. */
  amount: string;
}

/** SQL of the payments ledger. */
@Injectable()
export class PaymentsRepository {
  constructor(private readonly db: Database) {}

  /** An admin top-up. */
  async credit(userId: number, amount: string, note: string | undefined): Promise<Credit | null> {
    const { rows } = await this.db.query<CreditRow>(CREDIT, [userId, amount, 'topup', null, null, note ?? null]);
    return rows[0] ? toCredit(rows[0]) : null;
  }

  /** Records an invoice the bot is about to send. */
  async createInvoice(userId: number, invoice: Invoice): Promise<void> {
    await this.db.query(
      'INSERT INTO invoices (user_id, payload, currency, total_amount, amount) VALUES ($1, $2, $3, $4, $5::numeric)',
      [userId, invoice.payload, invoice.currency, invoice.totalAmount, invoice.amount],
    );
  }

  /** Whether this user has an unpaid invoice with this payload, currency and total (pre-checkout). */
  async hasOpenInvoice(userId: number, payload: string, currency: string, totalAmount: number): Promise<boolean> {
    const { rows } = await this.db.query(
      'SELECT 1 FROM invoices WHERE payload = $2 AND user_id = $1 AND currency = $3 AND total_amount = $4 AND payment_id IS NULL',
      [userId, payload, currency, totalAmount],
    );
    return rows.length > 0;
  }

  /** Credits a paid invoice; null when there is no matching open invoice (forged, mismatched or already paid). */
  async creditInvoice(
    userId: number,
    payload: string,
    currency: string,
    totalAmount: number,
    telegramChargeId: string,
  ): Promise<Credit | null> {
    const { rows } = await this.db.query<CreditRow>(CREDIT_INVOICE, [
      userId,
      payload,
      currency,
      totalAmount,
      telegramChargeId,
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
