import { Global, Module } from '@nestjs/common';
import { makeCounterProvider, PrometheusModule } from '@willsoto/nestjs-prometheus';
import { CacheMetricsModule } from 'nestjs-tiercache/metrics';
import promClient from 'prom-client';
import { BotMetricNames, BotMetrics } from './bot-metrics.js';

/**
 * GET /metrics (Prometheus text format) with Node's default metrics, the cache's metrics (`cache_*`, from
 * nestjs-tiercache) and the bot's counters. prom-client's registry
 * is process-wide: default metrics are collected once even when several apps start in one process (tests).
 */
@Global()
@Module({
  imports: [
    PrometheusModule.register({
      path: '/metrics',
      defaultMetrics: { enabled: promClient.register.getSingleMetric('process_cpu_user_seconds_total') === undefined },
    }),
    CacheMetricsModule.forRoot({}),
  ],
  providers: [
    makeCounterProvider({
      name: BotMetricNames.updates,
      help: 'Telegram updates received, by type',
      labelNames: ['type'],
    }),
    makeCounterProvider({
      name: BotMetricNames.replies,
      help: 'Replies returned in the webhook response, by Bot API method and outcome',
      labelNames: ['method', 'outcome'],
    }),
    makeCounterProvider({
      name: BotMetricNames.dbQueries,
      help: 'Database round trips, by statement kind',
      labelNames: ['kind'],
    }),
    makeCounterProvider({ name: BotMetricNames.charges, help: 'Messages charged' }),
    makeCounterProvider({ name: BotMetricNames.chargedAmount, help: 'Sum of the amounts charged for messages' }),
    makeCounterProvider({
      name: BotMetricNames.responseCache,
      help: 'Responder answers looked up in the response cache, by result (hit, miss, bypass)',
      labelNames: ['result'],
    }),
    BotMetrics,
  ],
  exports: [BotMetrics],
})
export class MetricsModule {}
