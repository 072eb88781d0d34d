import type { Registry } from 'prom-client';
import { CacheError } from '../../errors/cache.error.js';
import { ErrorMessages } from '../../errors/error-messages.js';
import type { Duration } from '../../options/duration.js';
import { describe, parseDuration } from '../../options/duration.js';
import { DEFAULT_METRICS_PREFIX } from './metric-names.js';

/**
 * Latency buckets in seconds: 50 µs (a memory hit) … 1 s (far past any command timeout).
 * @example CacheMetricsModule.forRoot({ buckets: [...DEFAULT_LATENCY_BUCKETS, 2.5] })
 */
export const DEFAULT_LATENCY_BUCKETS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

/**
 * Options of `CacheMetricsModule.forRoot` / `forRootAsync`.
 * @example
 * CacheMetricsModule.forRoot({ prefix: 'bot_redis_cache_', namespaceLabel: 'cache_type', refreshInterval: '15s' })
 */
export interface CacheMetricsOptions {
  /** Prepended to every metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`). @default 'cache_' */
  prefix?: string;
  /** The registry to register on; the one `@willsoto/nestjs-prometheus` serves is prom-client's global `register`. @default register (prom-client) */
  registry?: Registry;
  /** Name of the namespace label (e.g. `'cache_type'` to reproduce existing dashboards). @default 'namespace' */
  namespaceLabel?: string;
  /** How often the Redis INFO gauges are refreshed; `0` refreshes only at boot and on `refresh()`. @default '10s' */
  refreshInterval?: Duration;
  /** Deadline of the PING/INFO a refresh sends. @default '1s' */
  refreshTimeout?: Duration;
  /** Upper bounds (seconds, ascending) of the latency histogram. @default DEFAULT_LATENCY_BUCKETS (50 µs … 1 s) */
  buckets?: readonly number[];
  /** Namespaces labelled by name; later ones share the label value `_other`, so series stay bounded. @default 100 */
  maxNamespaces?: number;
}

/**
 * Options with defaults applied and durations in milliseconds.
 * @example resolveMetricsOptions({ refreshInterval: '15s' }).refreshIntervalMs // 15000
 */
export interface ResolvedMetricsOptions {
  prefix: string;
  registry: Registry | undefined;
  namespaceLabel: string;
  refreshIntervalMs: number;
  refreshTimeoutMs: number;
  buckets: readonly number[];
  maxNamespaces: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const RESERVED_LABELS = new Set(['cache', 'tier', 'operation', 'result', 'le']);

function invalid(path: string, value: unknown, expected: string): CacheError {
  return new CacheError('E_INVALID_OPTION', ErrorMessages.invalidOption(path, describe(value), expected));
}

/**
 * Validates the metrics options once at boot; a bad option throws naming it.
 * @example resolveMetricsOptions({ prefix: 'bot_' }).refreshIntervalMs // 10000
 */
export function resolveMetricsOptions(options: CacheMetricsOptions = {}): ResolvedMetricsOptions {
  const prefix = options.prefix ?? DEFAULT_METRICS_PREFIX;
  if (typeof prefix !== 'string' || (prefix !== '' && !METRIC_NAME.test(prefix))) {
    throw invalid('metrics.prefix', prefix, 'a Prometheus name prefix matching /[a-zA-Z_:][a-zA-Z0-9_:]*/');
  }
  const namespaceLabel = options.namespaceLabel ?? 'namespace';
  if (
    typeof namespaceLabel !== 'string' ||
    !LABEL_NAME.test(namespaceLabel) ||
    namespaceLabel.startsWith('__') ||
    RESERVED_LABELS.has(namespaceLabel)
  ) {
    throw invalid(
      'metrics.namespaceLabel',
      namespaceLabel,
      "a label name such as 'namespace' or 'cache_type' (not cache, tier, operation, result or le)",
    );
  }
  const buckets = options.buckets ?? DEFAULT_LATENCY_BUCKETS;
  if (
    !Array.isArray(buckets) ||
    buckets.length === 0 ||
    buckets.some(
      (b, i) => typeof b !== 'number' || !Number.isFinite(b) || b <= 0 || (i > 0 && b <= (buckets[i - 1] ?? 0)),
    )
  ) {
    throw invalid('metrics.buckets', buckets, 'a non-empty ascending list of positive finite seconds');
  }
  const maxNamespaces = options.maxNamespaces ?? 100;
  if (!Number.isInteger(maxNamespaces) || maxNamespaces < 1)
    throw invalid('metrics.maxNamespaces', maxNamespaces, 'a positive integer');
  return {
    prefix,
    registry: options.registry,
    namespaceLabel,
    refreshIntervalMs: parseDuration(options.refreshInterval ?? '10s', 'metrics.refreshInterval'),
    refreshTimeoutMs: Math.max(1, parseDuration(options.refreshTimeout ?? '1s', 'metrics.refreshTimeout')),
    buckets: [...buckets],
    maxNamespaces,
  };
}
