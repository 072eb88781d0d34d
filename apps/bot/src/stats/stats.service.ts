import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { CacheService } from 'nestjs-tiercache';
import { Clock } from '../clock/clock.js';
import { PaymentEvents } from '../payments/payment.events.js';
import type { PaymentEvent } from '../payments/payment.events.js';
import { Money } from '../users/money.js';
import type { DailyStats } from './daily-stats.js';
import { dayWindow } from './day-window.js';
import { StatsRepository } from './stats.repository.js';

/** The namespace of daily stats (Redis only: a payment on any instance must be visible at once). */
export const STATS_NAMESPACE = 'stats';

/**
 * A user's day (seed 001's daily stats): cached until the user's next midnight (UTC unless the user set a time
 * zone), and dropped whenever the balance or the day's spend changes — a charge (by the conversation), a refund, a
 * top-up or a payment (their events) — so /stats is never stale after a payment. A cached day that is no longer
 * today (the clock passed midnight before the entry expired) is read again.
 */
@Injectable()
export class StatsService {
  constructor(
    private readonly cache: CacheService,
    private readonly repository: StatsRepository,
    private readonly clock: Clock,
  ) {}

  /** Today's stats of a registered user. */
  async today(userId: number, timeZone: string | null): Promise<DailyStats> {
    const now = this.clock.now();
    const window = dayWindow(now, timeZone);
    const load = async (): Promise<DailyStats> => {
      const row = await this.repository.between(userId, window.start / 1000, window.end / 1000);
      return {
        day: window.day,
        timeZone: window.timeZone,
        messages: row?.messages ?? 0,
        spend: Money.format(row?.spend ?? '0'),
        balance: row?.balance ?? '0',
      };
    };
    const ttl = Math.max(1_000, window.end - now);
    const cached = await this.cache.getOrSet(STATS_NAMESPACE, userId, load, { ttl });
    if (cached.day === window.day && cached.timeZone === window.timeZone) return cached;
    const fresh = await load();
    await this.cache.set(STATS_NAMESPACE, userId, fresh, { ttl });
    return fresh;
  }

  /** The user's balance or spend changed: the next /stats reads them again. */
  async changed(userId: number): Promise<void> {
    await this.cache.delete(STATS_NAMESPACE, userId);
  }

  @OnEvent(PaymentEvents.completed)
  @OnEvent(PaymentEvents.refunded)
  @OnEvent(PaymentEvents.toppedUp)
  async onPayment(event: PaymentEvent): Promise<void> {
    await this.changed(event.userId);
  }
}
