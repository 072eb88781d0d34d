// nestjs-tiercache/metrics: Prometheus metrics of the cache (peers: prom-client, @willsoto/nestjs-prometheus optional).
export { CacheMetricsModule } from './observability/metrics/cache-metrics.module.js';
export { CACHE_METRICS } from './observability/metrics/cache-metrics.interface.js';
export type { CacheMetrics } from './observability/metrics/cache-metrics.interface.js';
export { DEFAULT_LATENCY_BUCKETS } from './observability/metrics/cache-metrics.options.js';
export type { CacheMetricsOptions } from './observability/metrics/cache-metrics.options.js';
export { cacheMetricNames } from './observability/metrics/metric-names.js';
export type { CacheMetricNames } from './observability/metrics/metric-names.js';
