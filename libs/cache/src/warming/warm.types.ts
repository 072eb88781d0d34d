/** What a warmer produces: `[key, value]` pairs (any iterable) or a Map. */
export type WarmEntries = Iterable<readonly [unknown, unknown]> | Map<unknown, unknown>;

/** What one warming did. */
export interface WarmReport {
  namespace: string;
  /** Entries written. */
  written: number;
  /** Entries not cached (too large, unserializable, backend unavailable). */
  failed: number;
  /** True when another instance already warmed this deploy (`once`). */
  skipped: boolean;
  /** Wall time in milliseconds. */
  ms: number;
}

/** Options of `CacheService.warm`. */
export interface WarmOptions {
  ttl?: number | string;
  tags?: readonly string[];
  /**
   * Run once per deploy across instances: a lease named by this id (and the module's `deployId`) is taken first;
   * if another instance holds it, nothing is written.
   */
  once?: string;
}
