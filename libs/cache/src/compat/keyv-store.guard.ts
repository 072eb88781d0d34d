import { CacheError } from '../errors/cache.error.js';
import { ErrorMessages, LogMessages } from '../errors/error-messages.js';
import type { CacheOperation, CacheOutcome } from '../observability/cache-recorder.js';
import type { CacheTelemetry } from '../observability/cache-telemetry.js';
import { raceTimeout } from '../resilience/budget.js';
import { CircuitBreaker } from '../resilience/circuit-breaker.js';
import type { ThrottledLogger } from '../resilience/throttled-logger.js';
import { inProcess } from './keyv-store.js';
import type { KeyvLike, KeyvRaw } from './keyv-store.js';

/** What every guarded store of one `CACHE_MANAGER` shares: its namespace, timeouts, breaker settings and sinks. */
export interface StoreGuardSettings {
  namespace: string;
  /** The cache-I/O time one call may spend across its stores (tiercache `commandTimeout`). */
  timeoutMs: number;
  breaker: { threshold: number; probeIntervalMs: number };
  /** False (tiercache `enabled: false`): no store is called, every read misses. */
  enabled: boolean;
  telemetry: CacheTelemetry;
  logger: ThrottledLogger;
}

/** The key a probe reads to learn whether a store that kept failing answers again (read only, never written). */
const PROBE_KEY = '__tiercache_probe__';

/**
 * One of the `stores` under tiercache's failure policy: every call ends by the call's deadline (the `commandTimeout`
 * shared by every store one cache call reaches: timeouts never stack), a throw or a timeout becomes the fallback
 * (a miss, a skipped write), counted and logged rate-limited; after `breaker.threshold` consecutive failures the
 * store is skipped until a background probe (a read, every `breaker.probeInterval`) gets an answer. Deletes and
 * clears are still attempted while it is skipped: a store that comes back must not serve what was removed meanwhile.
 * @example const value = await guarded.get('k', deadline(250));
 */
export class GuardedStore {
  readonly tier: 'memory' | 'redis';
  readonly #breaker: CircuitBreaker;
  #probe: NodeJS.Timeout | undefined;
  #probing = false;

  constructor(
    readonly store: KeyvLike,
    /** How logs and errors name the store: `stores[1]`. */
    readonly label: string,
    private readonly settings: StoreGuardSettings,
  ) {
    this.tier = inProcess(store) ? 'memory' : 'redis';
    this.#breaker = new CircuitBreaker({ threshold: settings.breaker.threshold }, (state) => {
      if (state === 'open') this.#startProbe();
      else this.#stopProbe(); // a delete (still sent while open) got an answer
    });
  }

  /** The value, or undefined (a miss, or the store failed). */
  get(key: string, until: number): Promise<unknown> {
    return this.#run('get', () => this.store.get(key), undefined, until);
  }

  /** The raw entry (value and expiry), or undefined. */
  getRaw(key: string, until: number): Promise<KeyvRaw | undefined> {
    return this.#run('get', () => this.#readRaw(key), undefined, until);
  }

  /** Values in the order of `keys` (undefined for misses); undefined when the store failed. */
  getMany(keys: string[], until: number): Promise<unknown[] | undefined> {
    const s = this.store;
    const read = (): Promise<unknown[]> =>
      typeof s.getMany === 'function' ? s.getMany(keys) : Promise.all(keys.map((k) => s.get(k)));
    return this.#run('get', read, undefined, until);
  }

  /** True when the store took the write. */
  set(key: string, value: unknown, ttlMs: number, until: number): Promise<boolean> {
    return this.#run('set', async () => (await this.store.set(key, value, ttlMs), true), false, until);
  }

  setMany(list: { key: string; value: unknown; ttl: number }[], until: number): Promise<boolean> {
    const s = this.store;
    const write = async (): Promise<boolean> => {
      if (typeof s.setMany === 'function') await s.setMany(list);
      else await Promise.all(list.map(({ key, value, ttl }) => s.set(key, value, ttl)));
      return true;
    };
    return this.#run('set', write, false, until);
  }

  delete(keys: readonly string[], until: number): Promise<boolean> {
    const s = this.store;
    const remove = async (): Promise<boolean> => {
      if (keys.length > 1 && typeof s.deleteMany === 'function') await s.deleteMany([...keys]);
      else await Promise.all(keys.map((k) => s.delete(k)));
      return true;
    };
    return this.#run('delete', remove, false, until, true);
  }

  clear(until: number): Promise<boolean> {
    const s = this.store;
    const clear = async (): Promise<boolean> => (typeof s.clear === 'function' ? (await s.clear(), true) : false);
    return this.#run('clear', clear, false, until, true);
  }

  /** Closes the store's connections (bounded; a failure is logged) and stops probing. */
  async disconnect(until: number): Promise<void> {
    this.#stopProbe();
    const s = this.store;
    if (typeof s.disconnect !== 'function') return;
    const remaining = Math.max(1, until - performance.now());
    await raceTimeout(
      Promise.resolve().then(() => s.disconnect?.()),
      remaining,
      () => new CacheError('E_TIMEOUT', ErrorMessages.timeout(this.label, 'disconnect', Math.round(remaining))),
    ).catch((err: unknown) =>
      this.settings.logger.warn(
        `${this.label}:disconnect`,
        LogMessages.backgroundFailed(`${this.label} disconnect`, err),
      ),
    );
  }

  async #readRaw(key: string): Promise<KeyvRaw | undefined> {
    const s = this.store;
    if (typeof s.getRaw === 'function') return s.getRaw(key);
    // Keyv before getRaw: get(key, { raw: true }) answers the same { value, expires }.
    const raw = await s.get(key, { raw: true });
    return typeof raw === 'object' && raw !== null && 'value' in raw ? (raw as KeyvRaw) : undefined;
  }

  async #run<R>(
    operation: CacheOperation,
    call: () => Promise<R>,
    fallback: R,
    until: number,
    evenWhenOpen = false,
  ): Promise<R> {
    const s = this.settings;
    if (!s.enabled) return fallback;
    if (!evenWhenOpen && !this.#breaker.allow()) {
      this.#count(operation, 'open');
      return fallback;
    }
    const remaining = until - performance.now();
    const started = performance.now();
    try {
      // Spent by the stores before this one: not this store's failure, so the breaker does not move.
      if (remaining <= 0) throw new CacheError('E_TIMEOUT', ErrorMessages.budgetSpent(this.label, operation));
      // A store that throws synchronously, rejects, or never answers: all end here, by the deadline.
      const result = await raceTimeout(
        Promise.resolve().then(call),
        remaining,
        () => new CacheError('E_TIMEOUT', ErrorMessages.timeout(this.label, operation, Math.round(remaining))),
      );
      this.#breaker.success();
      return result;
    } catch (err) {
      if (remaining > 0) this.#breaker.failure();
      const timeout = err instanceof CacheError && err.code === 'E_TIMEOUT';
      this.#count(operation, timeout ? 'timeout' : 'error', performance.now() - started);
      const reason = `${this.label}: ${err instanceof Error ? err.message : String(err)}`;
      s.logger.warn(
        `${this.label}:${operation}:${timeout ? 'timeout' : 'error'}`,
        LogMessages.operationFailed(operation, s.namespace, reason),
      );
      return fallback;
    }
  }

  #count(operation: CacheOperation, outcome: CacheOutcome, ms?: number): void {
    this.settings.telemetry.count(this.settings.namespace, this.tier, operation, outcome, ms);
  }

  #startProbe(): void {
    if (this.#probe !== undefined) return;
    const { timeoutMs, breaker, logger } = this.settings;
    this.#probe = setInterval(() => {
      if (this.#probing) return;
      this.#probing = true;
      raceTimeout(
        Promise.resolve().then(() => this.store.get(PROBE_KEY)),
        timeoutMs,
        () => new CacheError('E_TIMEOUT', ErrorMessages.timeout(this.label, 'probe', timeoutMs)),
      )
        .then(
          () => {
            this.#stopProbe();
            this.#breaker.reset();
          },
          (err: unknown) => logger.log(`${this.label}:probe`, LogMessages.backgroundFailed(`${this.label} probe`, err)),
        )
        .finally(() => {
          this.#probing = false;
        });
    }, breaker.probeIntervalMs);
    this.#probe.unref();
  }

  #stopProbe(): void {
    if (this.#probe !== undefined) clearInterval(this.#probe);
    this.#probe = undefined;
  }
}

/**
 * The deadline of one cache call: `performance.now()` plus the time it may spend across its stores.
 * @example const until = deadline(250); for (const s of stores) if (await s.get(k, until)) break;
 */
export function deadline(timeoutMs: number): number {
  return performance.now() + timeoutMs;
}
