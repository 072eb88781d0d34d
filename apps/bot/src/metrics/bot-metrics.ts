import { Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter } from 'prom-client';
import type { StatementKind } from '../database/statement-kind.js';
import { Money } from '../users/money.js';

/** Metric names, shared by the module that registers them and the tests that read them. */
export const BotMetricNames = {
  updates: 'bot_updates_total',
  replies: 'bot_replies_total',
  dbQueries: 'bot_db_queries_total',
  charges: 'bot_charges_total',
  chargedAmount: 'bot_charged_amount_total',
  responseCache: 'bot_response_cache_total',
} as const;

/** The app's own counters (the cache's metrics come from the cache library). Labels are bounded sets. */
@Injectable()
export class BotMetrics {
  constructor(
    @InjectMetric(BotMetricNames.updates) private readonly updates: Counter<'type'>,
    @InjectMetric(BotMetricNames.replies) private readonly replies: Counter<'method' | 'outcome'>,
    @InjectMetric(BotMetricNames.dbQueries) private readonly dbQueries: Counter<'kind'>,
    @InjectMetric(BotMetricNames.charges) private readonly charges: Counter,
    @InjectMetric(BotMetricNames.chargedAmount) private readonly chargedAmount: Counter,
    @InjectMetric(BotMetricNames.responseCache) private readonly responseCache: Counter<'result'>,
  ) {}

  /** One responder answer looked up in the response cache (`hit`: served without calling the responder). */
  responseLookup(result: 'hit' | 'miss' | 'bypass'): void {
    this.responseCache.inc({ result });
  }

  /** One webhook update, by type (`message`, `callback_query`, …, `ignored`, `malformed`). */
  update(type: string): void {
    this.updates.inc({ type });
  }

  /** One reply sent as the webhook response. */
  reply(method: string, outcome: 'answered' | 'refused' | 'info'): void {
    this.replies.inc({ method, outcome });
  }

  /** One database round trip. */
  dbQuery(kind: StatementKind): void {
    this.dbQueries.inc({ kind });
  }

  /** One charge of `amount` (exact decimal string). */
  charge(amount: string): void {
    this.charges.inc();
    this.chargedAmount.inc(Number(Money.parse(amount)) / 10_000);
  }
}
