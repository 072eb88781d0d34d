// nestjs-tiercache/health: the Terminus health indicator and the stats endpoint (peer: @nestjs/terminus).
export { CacheHealthModule } from './observability/health/cache-health.module.js';
export { CacheHealthIndicator } from './observability/health/cache-health.indicator.js';
export type {
  CacheHealthCheckOptions,
  CacheHealthData,
  CacheHealthMode,
  CacheHealthSummary,
} from './observability/health/cache-health.indicator.js';
export type { CacheHealthOptions } from './observability/health/cache-health.options.js';
export { CacheStatsModule } from './observability/health/cache-stats.module.js';
export type { CacheStatsModuleOptions } from './observability/health/cache-stats.module.js';
export { CacheStatsReporter } from './observability/health/cache-stats.reporter.js';
export type { CacheStatsReport } from './observability/health/cache-stats.reporter.js';
