import { Module } from '@nestjs/common';
import { DiscoveryModule, DiscoveryService } from '@nestjs/core';
import { registeredCaches } from '../../discovery/registered-caches.js';
import { CACHE_METRICS_MODULE_OPTIONS, CacheMetricsModuleClass } from './cache-metrics-module.definition.js';
import type { CacheMetrics } from './cache-metrics.interface.js';
import { CACHE_METRICS } from './cache-metrics.interface.js';
import type { CacheMetricsOptions } from './cache-metrics.options.js';
import { resolveMetricsOptions } from './cache-metrics.options.js';

/**
 * Prometheus metrics of the cache, on the app's own registry (prom-client's global `register` by default — the one
 * `@willsoto/nestjs-prometheus` serves at /metrics): counters per namespace/tier/operation/result, a latency
 * histogram per tier/operation, and Redis + memory-tier gauges, for every cache of the app: each series carries a
 * `cache` label (`'default'`, or the name given to `CacheModule.forRoot({ name })`).
 * prom-client is loaded only when this module is used.
 * @example
 * imports: [
 *   CacheModule.forRoot({ redis: process.env.REDIS_URL, isGlobal: true }),
 *   PrometheusModule.register(),
 *   CacheMetricsModule.forRoot({ prefix: 'bot_redis_cache_', namespaceLabel: 'cache_type' }),
 * ]
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: CACHE_METRICS,
      inject: [CACHE_METRICS_MODULE_OPTIONS, DiscoveryService],
      useFactory: async (options: CacheMetricsOptions, discovery: DiscoveryService): Promise<CacheMetrics> => {
        const resolved = resolveMetricsOptions(options);
        const { CacheMetricsRuntime } = await import('./cache-metrics.runtime.js');
        return new CacheMetricsRuntime(resolved, () => registeredCaches(discovery));
      },
    },
  ],
  exports: [CACHE_METRICS],
})
export class CacheMetricsModule extends CacheMetricsModuleClass {}
