import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { isUniqueViolation } from '../database/database.js';
import type { Credit } from './payment.js';
import { PaymentEvents } from './payment.events.js';
import type { PaymentEvent } from './payment.events.js';
import { PaymentsRepository } from './payments.repository.js';

/**
 * Balance credits: Telegram payments, admin top-ups and refunds of charges. Each emits its event once committed and
 * waits for the listeners (the cache's invalidateOn), so when a call returns no stale balance is left cached.
 */
@Injectable()
export class PaymentsService {
  constructor(
    private readonly repository: PaymentsRepository,
    private readonly events: EventEmitter2,
  ) {}

  /** A Telegram `successful_payment`; null when this charge id was already credited. */
  async recordTelegramPayment(
    userId: number,
    amount: string,
    currency: string,
    telegramChargeId: string,
  ): Promise<Credit | null> {
    try {
      const credit = await this.repository.credit(userId, 'payment', amount, {
        externalId: telegramChargeId,
        currency,
      });
      if (!credit) throw new NotFoundException(`user ${userId} is not registered`);
      await this.emit(PaymentEvents.completed, userId, credit);
      return credit;
    } catch (err) {
      if (isUniqueViolation(err)) return null;
      throw err;
    }
  }

  /** An admin top-up. */
  async topUp(userId: number, amount: string, note: string | undefined): Promise<Credit> {
    const credit = await this.repository.credit(userId, 'topup', amount, note === undefined ? {} : { note });
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
