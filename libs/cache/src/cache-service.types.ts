import type { NamespaceStats } from './observability/cache-stats.recorder.js';
import type { LeaseOptions, Ttl } from './options/cache-options.interface.js';

/** Options of one write. */
export interface CacheSetOptions<T = unknown> {
  /** Overrides the namespace TTL: a duration, or a function of the value (e.g. until midnight). */
  ttl?: Ttl | ((value: T) => number | string);
  /** Tags to invalidate the entry by, or a function of the value. */
  tags?: readonly string[] | ((value: T) => readonly string[]);
}

/** Options of getOrSet (each overrides the namespace's setting for this call). */
export interface GetOrSetOptions<T = unknown> extends CacheSetOptions<T> {
  /** Cache a `null` result. @default the module's `cacheNull` (true) */
  cacheNull?: boolean;
  /** Fail-safe grace: keep the entry this long past its TTL, to serve it when the source fails. */
  grace?: number | string;
  /** With a stale value in grace, answer with it when the loader is slower than this. */
  softTimeout?: number | string;
  /** Cut the loader after this long (stale value if any, else CacheError E_TIMEOUT); `false`: never. @default '30s' */
  hardTimeout?: number | string | false;
  /** Refresh in the background once this fraction of the TTL has passed. */
  eagerRefresh?: number;
  /** One loader across all instances (Redis). */
  lease?: boolean | LeaseOptions;
}

/** Options of the list operations. */
export interface ListOptions {
  /** Keep only the last N items. */
  maxLength: number;
  /** TTL of the list; every append slides it. @default the namespace TTL */
  ttl?: number | string;
}

/** What `stats()` returns. */
export interface CacheStatsSnapshot {
  enabled: boolean;
  backend: 'memory' | 'redis' | 'tiered';
  redisConnected: boolean | null;
  /** Circuit breaker of the Redis connection: 'open' while it, or on Cluster any master's, is open (null without Redis). */
  breaker: 'closed' | 'open' | 'half-open' | null;
  memory: { entries: number; bytes: number } | null;
  /** Memory-tier entries evicted for space since boot. */
  evictions: number;
  inFlight: number;
  /** Invalidations waiting for Redis to come back. */
  pendingInvalidations: number;
  /** Invalidations that did not fit the queue since boot (their namespaces, or the whole prefix, were cleared instead). */
  pendingInvalidationsDropped: number;
  /** Counters per namespace (at most 256 names; later ones are counted under `_other`). */
  namespaces: Record<string, NamespaceStats & { hitRate: number }>;
}
