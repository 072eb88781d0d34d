import type { Registry } from 'prom-client';
import type { CacheMetricNames } from './metric-names.js';

/**
 * What `CacheMetricsModule` provides under `CACHE_METRICS`: the names it registered and an on-demand refresh of the
 * Redis gauges (tests, or a scrape endpoint that wants fresh INFO).
 * @example
 * constructor(@Inject(CACHE_METRICS) private readonly metrics: CacheMetrics) {}
 * await this.metrics.refresh();
 */
export interface CacheMetrics {
  /** Every metric family name, for the configured prefix. */
  readonly names: CacheMetricNames;
  /** The registry the metrics are registered on. */
  readonly registry: Registry;
  /** Refreshes the Redis INFO gauges now; never throws. */
  refresh(): Promise<void>;
}

/**
 * Injection token of the {@link CacheMetrics} handle.
 * @example app.get<CacheMetrics>(CACHE_METRICS).names.hits // 'cache_hits_total'
 */
export const CACHE_METRICS = Symbol('tiercache:metrics');
