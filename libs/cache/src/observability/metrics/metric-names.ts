/**
 * The name of every metric family the metrics module registers, for one prefix.
 * @example const names: CacheMetricNames = cacheMetricNames('cache_');
 */
export interface CacheMetricNames {
  /** Counter {namespace, tier, operation, result}: every recorded cache event. */
  operations: string;
  /** Counter {namespace, tier}: reads answered from the cache. */
  hits: string;
  /** Counter {namespace, tier}: reads the cache could not answer. */
  misses: string;
  /** Counter {namespace, tier}: values written. */
  sets: string;
  /** Counter {namespace, tier, operation}: deletes, tag invalidations and namespace clears that succeeded. */
  invalidations: string;
  /** Counter {namespace, tier, operation}: backend errors (answered from the source). */
  errors: string;
  /** Counter {namespace, tier, operation}: backend timeouts (answered from the source). */
  timeouts: string;
  /** Counter {namespace, tier}: values not cached because too large or unserializable. */
  refused: string;
  /** Counter {namespace, tier}: stored entries that could not be decoded (treated as misses). */
  decodeFailures: string;
  /** Counter {tier}: memory-tier entries evicted for space. */
  evictions: string;
  /** Counter {namespace}: callers that waited for a load already in flight instead of loading again. */
  stampedeWaits: string;
  /** Histogram {tier, operation}: backend operation latency in seconds. */
  latency: string;
  /** Gauge: 1 when caching is enabled (CACHE_ENABLED), else 0. */
  enabled: string;
  /** Gauge: 1 when Redis is configured but unreachable and the app serves from the source/memory. */
  degraded: string;
  /** Gauge: 1 when the cache's Redis connection is ready. */
  redisConnected: string;
  /** Gauge: Redis `connected_clients`. */
  redisConnectedClients: string;
  /** Gauge: Redis `used_memory` in bytes. */
  redisUsedMemory: string;
  /** Gauge: Redis `uptime_in_seconds`. */
  redisUptime: string;
  /** Gauge: round trip of the last PING, in seconds. */
  redisPing: string;
  /** Counter: Redis `keyspace_hits` (server-wide, resets when Redis restarts). */
  redisKeyspaceHits: string;
  /** Counter: Redis `keyspace_misses` (server-wide, resets when Redis restarts). */
  redisKeyspaceMisses: string;
  /** Counter: Redis `evicted_keys` (server-wide, resets when Redis restarts). */
  redisEvictedKeys: string;
  /** Gauge: entries held by the memory tier. */
  memoryEntries: string;
  /** Gauge: bytes held by the memory tier. */
  memoryBytes: string;
}

/**
 * Default metric name prefix.
 * @example `${DEFAULT_METRICS_PREFIX}hits_total` // 'cache_hits_total'
 */
export const DEFAULT_METRICS_PREFIX = 'cache_';

/**
 * The metric names for a prefix; the one place they are spelled.
 * @param prefix prepended to every name. @default 'cache_'
 * @example
 * cacheMetricNames('bot_redis_cache_').hits // 'bot_redis_cache_hits_total'
 */
export function cacheMetricNames(prefix: string = DEFAULT_METRICS_PREFIX): CacheMetricNames {
  return {
    operations: `${prefix}operations_total`,
    hits: `${prefix}hits_total`,
    misses: `${prefix}misses_total`,
    sets: `${prefix}sets_total`,
    invalidations: `${prefix}invalidations_total`,
    errors: `${prefix}errors_total`,
    timeouts: `${prefix}timeouts_total`,
    refused: `${prefix}values_refused_total`,
    decodeFailures: `${prefix}decode_failures_total`,
    evictions: `${prefix}evictions_total`,
    stampedeWaits: `${prefix}stampede_waits_total`,
    latency: `${prefix}operation_duration_seconds`,
    enabled: `${prefix}enabled`,
    degraded: `${prefix}degraded`,
    redisConnected: `${prefix}redis_connected`,
    redisConnectedClients: `${prefix}redis_connected_clients`,
    redisUsedMemory: `${prefix}redis_used_memory_bytes`,
    redisUptime: `${prefix}redis_uptime_seconds`,
    redisPing: `${prefix}redis_ping_seconds`,
    redisKeyspaceHits: `${prefix}redis_keyspace_hits_total`,
    redisKeyspaceMisses: `${prefix}redis_keyspace_misses_total`,
    redisEvictedKeys: `${prefix}redis_evicted_keys_total`,
    memoryEntries: `${prefix}memory_entries`,
    memoryBytes: `${prefix}memory_bytes`,
  };
}
