import { CacheError, isKindMismatch } from '../errors/cache.error.js';
import { LogMessages } from '../errors/error-messages.js';
import type { CacheOperation, CacheTier } from '../observability/cache-recorder.js';
import type { CacheTelemetry } from '../observability/cache-telemetry.js';
import type { Breaker } from '../resilience/circuit-breaker.js';
import type { ThrottledLogger } from '../resilience/throttled-logger.js';

const MUTATIONS = new Set<CacheOperation>(['delete', 'invalidate', 'clear']);

/**
 * The failure policy of every backend call: fail open (an error or timeout becomes the fallback), count the
 * outcome, log it rate-limited, move the circuit breaker, and hand what must be redone to `onFail`. `keys`: the
 * entries an operation touches — on Redis Cluster they choose the breakers (one per master) it asks and moves.
 * @example const n = await guard.run('user', 'clear', () => backend.clearPrefix(p), 0, () => replay.addPrefix(p));
 */
export class BackendGuard {
  constructor(
    private readonly breaker: Breaker | undefined,
    /** The tier a backend call reaches ('memory' without Redis). */
    readonly tier: CacheTier,
    private readonly telemetry: CacheTelemetry,
    private readonly logger: ThrottledLogger,
  ) {}

  /** False while the circuit (of the master serving `keys`, on Cluster) is open: nothing is sent then. */
  allow(keys?: string | readonly string[]): boolean {
    return this.breaker?.allow(keys) ?? true;
  }

  success(keys?: string | readonly string[]): void {
    this.breaker?.success(keys);
  }

  /**
   * Runs one backend operation failing open. While the circuit is open it answers `fallback` at once, except for
   * invalidations (`onFail` given), which are still attempted: on Cluster one dead master must not stop the healthy
   * ones from dropping keys; their outcome does not move the breaker (the probe does), a failure is replayed.
   */
  async run<R>(
    namespace: string,
    operation: CacheOperation,
    op: () => Promise<R>,
    fallback: R,
    onFail?: () => void,
    keys?: string | readonly string[],
  ): Promise<R> {
    if (!this.allow(keys)) {
      this.telemetry.count(namespace, this.tier, operation, 'open');
      if (MUTATIONS.has(operation) && onFail) {
        try {
          return await op();
        } catch {
          onFail();
          return fallback;
        }
      }
      onFail?.();
      return fallback;
    }
    try {
      const result = await op();
      this.breaker?.success(keys);
      if (MUTATIONS.has(operation)) this.telemetry.count(namespace, this.tier, operation, 'ok');
      return result;
    } catch (err) {
      // Asking for a list as a value (or the reverse) is the caller's mistake, not the backend's: say so.
      if (isKindMismatch(err)) throw err;
      this.failure(namespace, operation, err, onFail, undefined, keys);
      return fallback;
    }
  }

  /** Counts, logs (throttled) and reports a failed backend operation to the breaker; queues what must be redone. */
  failure(
    namespace: string,
    operation: CacheOperation,
    err: unknown,
    onFail?: () => void,
    ms?: number,
    keys?: string | readonly string[],
  ): void {
    const message = err instanceof Error ? err.message : String(err);
    if (message.startsWith('OOM')) {
      // Redis is full, not broken: count a refused write, keep the circuit closed.
      this.breaker?.success(keys);
      this.telemetry.count(namespace, this.tier, operation, 'refused');
      this.logger.warn(`oom:${operation}`, LogMessages.redisOom(operation));
      return;
    }
    this.breaker?.failure(keys);
    const timeout = err instanceof CacheError ? err.code === 'E_TIMEOUT' : /timed out/i.test(message);
    this.telemetry.count(namespace, this.tier, operation, timeout ? 'timeout' : 'error', ms);
    this.logger.warn(
      `${operation}:${timeout ? 'timeout' : 'error'}`,
      LogMessages.operationFailed(operation, this.telemetry.label(namespace), message),
    );
    onFail?.();
  }
}
