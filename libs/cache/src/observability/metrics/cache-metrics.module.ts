import { Module } from '@nestjs/common';
import { CACHE_ENGINE } from '../../cache.constants.js';
import type { CacheEngine } from '../../engine/cache-engine.js';
import { CACHE_METRICS_MODULE_OPTIONS, CacheMetricsModuleClass } from './cache-metrics-module.definition.js';
import type { CacheMetrics } from './cache-metrics.interface.js';
import { CACHE_METRICS } from './cache-metrics.interface.js';
import type { CacheMetricsOptions } from './cache-metrics.options.js';
import { resolveMetricsOptions } from './cache-metrics.options.js';

/**
 * Prometheus metrics of the cache, on the app's own registry (prom-client's global `register` by default — the one
 * `@willsoto/nestjs-prometheus` serves at /metrics): counters per namespace/tier/operation/result, a latency
 * histogram per tier/operation, and Redis + memory-tier gauges. Needs CacheModule registered with `isGlobal: true`.
 * prom-client is loaded only when this module is used.
 * @example
 * imports: [
 *   CacheModule.forRoot({ redis: process.env.REDIS_URL, isGlobal: true }),
 *   PrometheusModule.register(),
 *   CacheMetricsModule.forRoot({ prefix: 'bot_redis_cache_', namespaceLabel: 'cache_type' }),
 * ]
 */
@Module({
  providers: [
    {
      provide: CACHE_METRICS,
      inject: [CACHE_METRICS_MODULE_OPTIONS, CACHE_ENGINE],
      useFactory: async (options: CacheMetricsOptions, engine: CacheEngine): Promise<CacheMetrics> => {
        const resolved = resolveMetricsOptions(options);
        const { CacheMetricsRuntime } = await import('./cache-metrics.runtime.js');
        return new CacheMetricsRuntime(resolved, engine.telemetry, engine.store, engine.options);
      },
    },
  ],
  exports: [CACHE_METRICS],
})
export class CacheMetricsModule extends CacheMetricsModuleClass {}
