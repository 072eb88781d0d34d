import { setTimeout as sleep } from 'node:timers/promises';
import { withTimeout } from './with-timeout.js';

/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this long. @default 5000 */
  timeoutMs?: number;
  /** Pause between two evaluations of the predicate. @default 10 */
  intervalMs?: number;
  /** What was awaited, for the timeout error. @default 'condition' */
  message?: string;
}

/**
 * Polls `predicate` until it returns (or resolves to) `true`; rejects with a message naming what was awaited
 * once `timeoutMs` have passed. A predicate that throws counts as "not yet", and its last error is quoted in the
 * timeout message (handy while a server restarts). A predicate that hangs is cut at the deadline.
 *
 * @example
 * await waitFor(async () => (await server.command('EXISTS', 'k')) === 0, { message: 'k to expire' });
 */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  { timeoutMs = 5000, intervalMs = 10, message = 'condition' }: WaitForOptions = {},
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const remaining = deadline - performance.now();
    try {
      if (await withTimeout(Promise.resolve().then(predicate), Math.max(1, remaining), 'waitFor predicate')) return;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() + intervalMs > deadline) break;
    await sleep(intervalMs);
  }
  const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`waitFor timed out after ${timeoutMs} ms waiting for ${message}${reason}`, { cause: lastError });
}
