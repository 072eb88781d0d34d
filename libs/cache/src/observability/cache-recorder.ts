/** Where an operation was served. */
export type CacheTier = 'memory' | 'redis' | 'source';

/** What was attempted. */
export type CacheOperation =
  'get' | 'set' | 'delete' | 'invalidate' | 'clear' | 'update' | 'append' | 'load' | 'lease' | 'warm';

/** How it ended. */
export type CacheOutcome =
  | 'hit'
  | 'miss'
  | 'ok'
  | 'error'
  | 'timeout'
  | 'refused'
  | 'corrupt'
  | 'skipped'
  | 'wait'
  | 'bypass'
  | 'open'
  | 'stale'
  | 'refresh';

/**
 * A sink for cache events (metrics, stats). Labels are bounded by construction: namespace (from options or
 * decorators), tier, operation and outcome — never a key or a user id.
 */
export interface CacheRecorder {
  record(
    namespace: string,
    tier: CacheTier,
    operation: CacheOperation,
    outcome: CacheOutcome,
    durationMs?: number,
  ): void;
}
