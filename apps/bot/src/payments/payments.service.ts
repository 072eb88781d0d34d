import { ConflictException, Injectable, Logger, NotFoundException } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { randomBytes } from 'node:crypto';
import { BotConfig } from '../config/bot-config.js';
import { isNumericOverflow, isUniqueViolation } from '../database/database.js';
import { Money } from '../users/money.js';
import type { Credit } from './payment.js';
import { PaymentEvents } from './payment.events.js';
import type { PaymentEvent } from './payment.events.js';
import type { Invoice } from './payments.repository.js';
import { PaymentsRepository } from './payments.repository.js';

/** Currencies whose amounts Telegram gives in whole units (no minor unit). */
const ZERO_DECIMAL = new Set(['XTR', 'JPY', 'KRW', 'VND', 'CLP', 'ISK', 'UGX']);

/** Largest single top-up (invoice or admin), so a balance stays far inside numeric(18, 4). */
export const MAX_TOP_UP = '100000';

/**
 * Balance credits: Telegram payments, admin top-ups and refunds of charges. Each emits its event once committed and
 * waits for the listeners (the cache's invalidateOn), so when a call returns no stale balance is left cached.
 */
@Injectable()
export class PaymentsService {
  private readonly logger = new Logger(PaymentsService.name);

  constructor(
    private readonly repository: PaymentsRepository,
    private readonly events: EventEmitter2,
    private readonly config: BotConfig,
  ) {}

  /**
   * Issues an invoice of `amount` (exact decimal, in balance units) in the bot's currency; null when the amount
   * cannot be expressed in it (a fraction of a zero-decimal currency, more than 2 fraction digits) or is too large.
   */
  async createInvoice(userId: number, amount: string): Promise<Invoice | null> {
    if (!Money.isValid(amount) || Money.parse(amount) === 0n || Money.lessThan(MAX_TOP_UP, amount)) return null;
    const units = Money.parse(amount);
    const currency = this.config.paymentCurrency;
    const perMinor = ZERO_DECIMAL.has(currency) ? 10_000n : 100n;
    if (units % perMinor !== 0n) return null;
    const invoice: Invoice = {
      payload: `inv_${randomBytes(12).toString('hex')}`,
      currency,
      totalAmount: Number(units / perMinor),
      amount: Money.format(amount),
    };
    await this.repository.createInvoice(userId, invoice);
    return invoice;
  }

  /** A pre-checkout query: accepted only for an open invoice of this user, currency and total. */
  async acceptsCheckout(userId: number, payload: string, currency: string, totalAmount: number): Promise<boolean> {
    return this.repository.hasOpenInvoice(userId, payload, currency, totalAmount);
  }

  /**
   * A Telegram `successful_payment`: credited only when it pays an open invoice the bot issued to this user, in its
   * currency and total (the invoice's amount is credited). Null when nothing was credited: already credited (a
   * re-delivery), or no such invoice (forged or mismatched; logged with ids only).
   */
  async recordTelegramPayment(
    userId: number,
    payload: string,
    currency: string,
    totalAmount: number,
    telegramChargeId: string,
  ): Promise<Credit | null> {
    let credit: Credit | null;
    try {
      credit = await this.repository.creditInvoice(userId, payload, currency, totalAmount, telegramChargeId);
    } catch (err) {
      if (isUniqueViolation(err)) return null;
      throw err;
    }
    if (!credit) {
      this.logger.warn(`payment of user ${userId} matches no open invoice of the bot: not credited`);
      return null;
    }
    await this.emit(PaymentEvents.completed, userId, credit);
    return credit;
  }

  /** An admin top-up. */
  async topUp(userId: number, amount: string, note: string | undefined): Promise<Credit> {
    let credit: Credit | null;
    try {
      credit = await this.repository.credit(userId, amount, note);
    } catch (err) {
      if (isNumericOverflow(err)) throw new ConflictException(`the balance of user ${userId} would exceed its limit`);
      throw err;
    }
    if (!credit) throw new NotFoundException(`user ${userId} not found`);
    await this.emit(PaymentEvents.toppedUp, userId, credit);
    return credit;
  }

  /** Gives a charge back to the user, once. */
  async refund(userId: number, chargeId: number, note: string | undefined): Promise<Credit> {
    let credit: Credit | null;
    try {
      credit = await this.repository.refund(userId, chargeId, note);
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictException(`charge ${chargeId} was already refunded`);
      throw err;
    }
    if (!credit) throw new NotFoundException(`user ${userId} has no charge ${chargeId}`);
    await this.emit(PaymentEvents.refunded, userId, credit);
    return credit;
  }

  private async emit(event: string, userId: number, credit: Credit): Promise<void> {
    const payload: PaymentEvent = {
      userId,
      paymentId: credit.paymentId,
      amount: credit.amount,
      balance: credit.balance,
    };
    await this.events.emitAsync(event, payload);
  }
}
