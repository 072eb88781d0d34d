import type { CacheEntry } from '../backends/cache-entry.js';
import { CacheError } from '../errors/cache.error.js';
import { ErrorMessages } from '../errors/error-messages.js';

/** Timeouts of one load. */
export interface LoaderTimeouts {
  softTimeoutMs: number | undefined;
  hardTimeoutMs: number | undefined;
}

/** How a load ended. `late` is the still-running load after a timeout answered with a stale value. */
export type LoadOutcome<T> =
  | { kind: 'fresh'; value: T }
  | { kind: 'stale'; value: T; reason: 'error' | 'soft-timeout' | 'hard-timeout'; late: Promise<T> | undefined };

/**
 * Runs a loader under the fail-safe policy: a stale value (within grace) answers when the loader throws, exceeds
 * the soft timeout or the hard timeout; without one, the loader's own error propagates untouched and a hard timeout
 * rejects with `CacheError('E_TIMEOUT')`. The loader is started exactly once.
 * @example const outcome = await runLoader(() => db.load(id), { softTimeoutMs: 200, hardTimeoutMs: 5000 }, staleEntry);
 */
export function runLoader<T>(
  loader: () => Promise<T> | T,
  timeouts: LoaderTimeouts,
  stale: CacheEntry<T> | undefined,
): Promise<LoadOutcome<T>> {
  const loading = Promise.resolve().then(loader);
  const soft = stale ? timeouts.softTimeoutMs : undefined;
  const hard = timeouts.hardTimeoutMs;
  if (soft === undefined && hard === undefined && !stale) return loading.then((value) => ({ kind: 'fresh', value }));

  return new Promise<LoadOutcome<T>>((resolve, reject) => {
    const timers: NodeJS.Timeout[] = [];
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      fn();
    };
    const serveStale = (reason: 'error' | 'soft-timeout' | 'hard-timeout', late: Promise<T> | undefined): boolean => {
      if (!stale) return false;
      finish(() => resolve({ kind: 'stale', value: stale.value, reason, late }));
      return true;
    };
    loading.then(
      (value) => finish(() => resolve({ kind: 'fresh', value })),
      (err: unknown) => {
        if (!serveStale('error', undefined)) finish(() => reject(err));
      },
    );
    if (soft !== undefined) timers.push(setTimeout(() => serveStale('soft-timeout', loading), soft).unref());
    if (hard !== undefined) {
      timers.push(
        setTimeout(() => {
          if (!serveStale('hard-timeout', undefined))
            finish(() => reject(new CacheError('E_TIMEOUT', ErrorMessages.loaderTimeout(hard))));
        }, hard).unref(),
      );
    }
  });
}
