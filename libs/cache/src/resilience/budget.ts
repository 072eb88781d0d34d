import { CacheError } from '../errors/cache.error.js';
import { ErrorMessages } from '../errors/error-messages.js';

/**
 * The cache-I/O time one call may spend, across every tier and retry: timeouts never stack. Operations run with
 * what is left; when nothing is left the operation is not started.
 * @example const budget = new Budget(250); const v = await budget.run('get', () => redis.get(k));
 */
export class Budget {
  private spent = 0;

  constructor(readonly totalMs: number) {}

  get remainingMs(): number {
    return this.totalMs - this.spent;
  }

  /** True while nothing has been spent: the client's own command timeout is then the whole deadline. */
  get fresh(): boolean {
    return this.spent === 0;
  }

  /** Records time spent outside {@link run} (an operation run directly while the budget was fresh). */
  spend(ms: number): void {
    this.spent += ms;
  }

  /** Runs `op` within the remaining budget (racing a timer only when less than the full budget is left). */
  async run<R>(backend: string, operation: string, op: () => Promise<R>): Promise<R> {
    const remaining = this.remainingMs;
    if (remaining <= 0) throw new CacheError('E_TIMEOUT', ErrorMessages.budgetSpent(backend, operation));
    const started = performance.now();
    try {
      // The full budget is the client's own command timeout: no extra timer on the common path.
      if (remaining >= this.totalMs) return await op();
      return await raceTimeout(
        op(),
        remaining,
        () => new CacheError('E_TIMEOUT', ErrorMessages.timeout(backend, operation, Math.round(remaining))),
      );
    } finally {
      this.spent += performance.now() - started;
    }
  }
}

/** Resolves or rejects like `promise`, or rejects with `onTimeout()` after `ms`; the timer never keeps the process up. */
export function raceTimeout<R>(promise: Promise<R>, ms: number, onTimeout: () => Error): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
