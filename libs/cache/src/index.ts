export { CacheModule } from './cache.module.js';
export type { CacheOptionsFactory } from './cache-module.definition.js';
export { CacheService } from './cache.service.js';
export type { CacheSetOptions, CacheStatsSnapshot, GetOrSetOptions, ListOptions } from './cache.service.js';
export { Cached } from './decorators/cached.decorator.js';
export { CachePut } from './decorators/cache-put.decorator.js';
export { CacheInvalidate } from './decorators/cache-invalidate.decorator.js';
export { WarmUp } from './decorators/warm-up.decorator.js';
export type { WarmUpOptions } from './decorators/warm-up.decorator.js';
export type { WarmEntries, WarmOptions, WarmReport } from './warming/warm.types.js';
export type { CachedOptions, CacheInvalidateOptions, CachePutOptions } from './decorators/cache-decorator.options.js';
export type {
  CacheModuleOptions,
  LeaseOptions,
  MemoryTierOptions,
  NamespaceOptions,
  RedisConnectionOptions,
  RedisNode,
  Ttl,
} from './options/cache-options.interface.js';
export type { Duration } from './options/duration.js';
export { composeKey } from './keys/composite-key.js';
export type { KeyPart } from './keys/composite-key.js';
export { CacheError } from './errors/cache.error.js';
export type { CacheErrorCode } from './errors/cache.error.js';
export { CacheEvents } from './events/cache.events.js';
export type { CacheBackendEvent, CacheInvalidatedEvent } from './events/cache.events.js';
export { CACHE_BACKEND, CACHE_OPTIONS } from './cache.constants.js';
export type { NamespaceStats } from './observability/cache-stats.recorder.js';
export { CacheMetricsModule } from './observability/metrics/cache-metrics.module.js';
export { CACHE_METRICS } from './observability/metrics/cache-metrics.interface.js';
export type { CacheMetrics } from './observability/metrics/cache-metrics.interface.js';
export { DEFAULT_LATENCY_BUCKETS } from './observability/metrics/cache-metrics.options.js';
export type { CacheMetricsOptions } from './observability/metrics/cache-metrics.options.js';
export { cacheMetricNames } from './observability/metrics/metric-names.js';
export type { CacheMetricNames } from './observability/metrics/metric-names.js';
export { CacheHealthModule } from './observability/health/cache-health.module.js';
export { CacheHealthIndicator } from './observability/health/cache-health.indicator.js';
export type { CacheHealthData, CacheHealthMode } from './observability/health/cache-health.indicator.js';
export type { CacheHealthOptions } from './observability/health/cache-health.options.js';
export { CacheStatsModule } from './observability/health/cache-stats.module.js';
export type { CacheStatsModuleOptions } from './observability/health/cache-stats.module.js';
export { CacheStatsReporter } from './observability/health/cache-stats.reporter.js';
export type { CacheStatsReport } from './observability/health/cache-stats.reporter.js';
