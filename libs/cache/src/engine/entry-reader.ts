import type { CacheStore } from '../backends/cache-store.js';
import type { ListReadResult, Miss, ReadResult } from '../backends/cache-entry.js';
import type { FillTicket } from '../backends/fill-tickets.js';
import { liveToken } from '../backends/cache-entry.js';
import { isKindMismatch } from '../errors/cache.error.js';
import { ErrorMessages } from '../errors/error-messages.js';
import type { Replayer } from '../invalidation/replayer.js';
import type { CacheTelemetry, NamespaceCounter } from '../observability/cache-telemetry.js';
import type { Budget } from '../resilience/budget.js';
import type { ThrottledLogger } from '../resilience/throttled-logger.js';
import type { BackendGuard } from './backend-guard.js';

/** A read's answer; `failed` when the backend could not be asked (the miss has no usable state token). */
export type EngineRead<T> = ReadResult<T> & { failed?: boolean };

/** The answer of a read that could not reach the backend: a miss with no usable state token. */
const FAILED_READ: Miss & { failed: true } = Object.freeze({ hit: false, token: null, failed: true });
/** A read while missed invalidations are being redone: a miss whose guard token matches nothing (no write lands). */
const RECOVERING_MISS: Miss & { failed: true } = Object.freeze({ hit: false, token: 'recovering', failed: true });

/**
 * Reads entries through the tiers within a call's budget, failing open: while the breaker is open or missed
 * invalidations are being redone the answer is a miss; an oversized stored value is skipped. Counts every outcome.
 * @example const read = await reader.read('user', key, new Budget(250));
 */
export class EntryReader {
  constructor(
    private readonly store: CacheStore,
    private readonly guard: BackendGuard,
    private readonly replayer: Replayer,
    private readonly telemetry: CacheTelemetry,
    private readonly logger: ThrottledLogger,
    private readonly maxValueBytes: (namespace: string) => number,
  ) {}

  /**
   * Reads an entry through the tiers. With a `budget` the read runs within what is left of it and spends its time
   * there; without one the client's own command timeout bounds it (a call's first read: its caller charges the time
   * to the budget it makes if a write follows). `counter`: the namespace's counter, when the caller keeps one.
   * Made of the steps a caller with a continuation of its own takes itself ({@link refused}, {@link send},
   * {@link settle}, {@link failed}): one promise reaction per read then, not one per layer.
   */
  read<T>(
    namespace: string,
    k: string,
    budget: Budget | undefined,
    counter?: NamespaceCounter,
  ): Promise<EngineRead<T>> {
    const refused = this.refused(namespace, k);
    if (refused !== undefined) return Promise.resolve(refused);
    // With the whole budget left, the client's own command timeout is the deadline: no timer, no extra layer.
    const direct = budget === undefined || budget.fresh;
    // The clock is read only when the time is used: a budget to charge, or a sink that records durations.
    const started = budget !== undefined || this.telemetry.timed ? performance.now() : undefined;
    const ms = (): number | undefined => (started === undefined ? undefined : spent(budget, direct, started));
    if (direct)
      return this.send<T>(k).then(
        (result) => this.settle(namespace, k, result, ms(), counter),
        (err: unknown) => this.failed<T>(namespace, k, err, ms(), counter),
      );
    const backend = this.store.backend;
    return budget
      .run(backend.kind, 'get', () => backend.read<T>(k))
      .then(
        (result) => this.settle(namespace, k, result, ms(), counter),
        (err: unknown) => this.failure(namespace, k, err, ms()),
      );
  }

  /**
   * The answer of a read that is not sent, counted: a miss while missed invalidations are being redone (what Redis
   * holds may be stale), a failed read while the breaker is open; undefined when the read may go.
   */
  refused(namespace: string, k: string): EngineRead<never> | undefined {
    const tier = this.guard.tier;
    if (this.replayer.recovering) {
      this.replayer.nudge();
      this.telemetry.count(namespace, tier, 'get', 'miss');
      return RECOVERING_MISS;
    }
    if (this.guard.allow(k)) return undefined;
    this.telemetry.count(namespace, tier, 'get', 'open');
    this.telemetry.count(namespace, tier, 'get', 'miss');
    return FAILED_READ;
  }

  /**
   * Sends a read on the client's own command timeout (after {@link refused}); what it answers goes to
   * {@link settle} (through {@link filled} first, with a `fill`), a rejection to {@link failed}. `fill`: from
   * {@link watch}, when the caller has just found `k` absent from the memory tier (synchronously, before this call):
   * the read then goes straight to Redis, and the caller's continuation fills the memory tier.
   */
  send<T>(k: string, fill?: FillTicket): Promise<ReadResult<T>> {
    const backend = this.store.backend;
    try {
      if (fill !== undefined) return this.store.tiered!.readRemote<T>(k);
      return backend.readUnchecked ? backend.readUnchecked<T>(k) : backend.read<T>(k);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Watches `k` for a read sent past the memory tier (see {@link send}): an invalidation of `k` before the answer
   * keeps it out of the tier. Undefined when there is no memory tier in front of Redis. The caller ends it with
   * {@link filled} or {@link unwatch}, whatever happens.
   */
  watch(k: string): FillTicket | undefined {
    return this.store.tiered?.memory.watch(k);
  }

  /** What a read sent with `fill` answered, once the memory tier is filled from it; never throws. */
  filled<T>(k: string, fill: FillTicket | undefined, answer: ReadResult<T>): ReadResult<T> {
    return fill === undefined ? answer : this.store.tiered!.settleRemote(k, fill, answer);
  }

  /** Ends a {@link watch} whose read failed (nothing is filled). */
  unwatch(fill: FillTicket | undefined): void {
    if (fill !== undefined) this.store.tiered!.memory.release(fill);
  }

  /**
   * A sent read that failed: what the backend makes of the failure (a key of another type: a corrupt miss), or a
   * failed read, counted (the breaker hears of it). A value entry read as a list rejects with `E_KIND_MISMATCH`.
   * Never throws: the callers sharing the read wait on what this returns.
   */
  failed<T>(
    namespace: string,
    k: string,
    err: unknown,
    ms: number | undefined,
    counter: NamespaceCounter | undefined,
  ): Promise<EngineRead<T>> {
    const backend = this.store.backend;
    if (backend.readUnchecked === undefined || backend.recoverRead === undefined) {
      try {
        return Promise.resolve(this.failure(namespace, k, err, ms));
      } catch (mismatch) {
        return Promise.reject(mismatch);
      }
    }
    return backend.recoverRead<T>(k, err).then(
      (result) => this.settle(namespace, k, result, ms, counter),
      (cause: unknown) => this.failure(namespace, k, cause, ms),
    );
  }

  /** A read that could not be answered: the breaker hears of it, and it is a counted miss. */
  private failure(namespace: string, k: string, err: unknown, ms: number | undefined): EngineRead<never> {
    if (isKindMismatch(err)) throw err;
    // A failed read spends its time too: the write after the load gets only what is left (no stacking).
    this.guard.failure(namespace, 'get', err, undefined, ms, k);
    this.telemetry.count(namespace, this.guard.tier, 'get', 'miss');
    return FAILED_READ;
  }

  /** Counts what a read answered; an oversized stored value becomes a miss naming it (and leaves the memory tier). */
  settle<T>(
    namespace: string,
    k: string,
    result: ReadResult<T>,
    ms: number | undefined,
    counter: NamespaceCounter | undefined,
  ): EngineRead<T> {
    this.guard.success(k);
    const tier = this.guard.tier;
    if (!result.hit) {
      if (result.corrupt) this.telemetry.count(namespace, tier, 'get', 'corrupt', ms);
      this.telemetry.count(namespace, tier, 'get', 'miss', ms);
      return result;
    }
    const maxBytes = this.maxValueBytes(namespace);
    if (result.size !== undefined && result.size > maxBytes) {
      // Oversized entries are skipped on read as they are refused on write (written by another version, or not
      // by us): a miss whose token names the entry, so the load replaces exactly it; the memory tier drops it.
      this.store.dropLocal({ keys: [k] });
      this.logger.warn(`size-read:${namespace}`, ErrorMessages.valueTooLarge(namespace, result.size, maxBytes));
      this.telemetry.count(namespace, tier, 'get', 'refused', ms);
      this.telemetry.count(namespace, tier, 'get', 'miss', ms);
      return { hit: false, token: liveToken(result.entry) };
    }
    this.telemetry.hit(counter ?? this.telemetry.counter(namespace), result.tier ?? tier, ms);
    return result;
  }

  /** Reads a list entry within the budget. A value entry read as a list throws `E_KIND_MISMATCH` (left intact). */
  async readList<T>(namespace: string, k: string, budget: Budget): Promise<ListReadResult<T>> {
    const tier = this.guard.tier;
    if (this.replayer.recovering) {
      this.replayer.nudge();
      this.telemetry.count(namespace, tier, 'get', 'miss');
      return RECOVERING_MISS;
    }
    const backend = this.store.backend;
    const result = await this.guard.run<ListReadResult<T>>(
      namespace,
      'get',
      () => budget.run(backend.kind, 'get', () => backend.readList<T>(k)),
      FAILED_READ,
      undefined,
      k,
    );
    this.telemetry.count(namespace, tier, 'get', result.hit ? 'hit' : result.corrupt ? 'corrupt' : 'miss');
    return result;
  }
}

/** The ms since `started`, charged to the budget when the read ran outside it (directly, with the budget fresh). */
function spent(budget: Budget | undefined, direct: boolean, started: number): number {
  const ms = performance.now() - started;
  if (direct) budget?.spend(ms);
  return ms;
}
