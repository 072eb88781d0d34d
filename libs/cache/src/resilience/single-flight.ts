import { SlottedMap } from './slotted-map.js';

/** One load in flight for a key: its promise, and whether an invalidation arrived while it ran. */
export interface Flight<T> {
  readonly promise: Promise<T>;
  /** Set by an invalidation of the key while the load ran: its result must not be cached. */
  invalidated: boolean;
}

/**
 * Coalesces concurrent loads of one key in one process: the first caller runs the loader, the others share its
 * promise (its value or its error); the entry is removed as soon as the load settles, so errors are never cached.
 * @example const user = await flights.run('bot:user:42', () => db.loadUser(42)).promise;
 */
export class SingleFlight {
  // Slotted: at concurrency 1 these go 0 → 1 → 0 on every call, which a Map pays for in table resizes.
  private readonly flights = new SlottedMap<string, Flight<unknown>>();
  /** Backend reads in progress, shared by the callers of a key that arrive meanwhile (a stampede reads once). */
  private readonly reads = new SlottedMap<string, SharedRead<unknown>>();

  /**
   * The read of `key` in progress, shared by the callers that arrive meanwhile (see {@link shareRead}). An
   * invalidation of the key ends the sharing: a caller that arrives after it (e.g. right after its own write) starts
   * a read of its own, never one that began before.
   */
  reading<R>(key: string): Promise<R> | undefined {
    return (this.reads.get(key) as SharedRead<R> | undefined)?.join();
  }

  /**
   * Starts sharing the read of `key` its caller is about to send. The caller ends it with {@link endRead} in its
   * own continuation, with what the read answered (no extra reaction per read; a promise only for those who join).
   */
  shareRead<R>(key: string): SharedRead<R> {
    const shared = new SharedRead<R>();
    this.reads.set(key, shared as SharedRead<unknown>);
    return shared;
  }

  /**
   * Ends the sharing of a read (a newer read of the key, after an invalidation, is left alone) and gives what it
   * answered to the callers that joined it.
   */
  endRead<R>(key: string, shared: SharedRead<R>, answer: R | Promise<R>): void {
    if (this.reads.get(key) === shared) this.reads.delete(key);
    shared.resolve(answer);
  }

  /** {@link endRead} for a read that failed: the callers that joined it get the error. */
  failRead<R>(key: string, shared: SharedRead<R>, err: unknown): void {
    if (this.reads.get(key) === shared) this.reads.delete(key);
    shared.reject(err);
  }

  /** Number of keys being loaded now. */
  get size(): number {
    return this.flights.size;
  }

  /** Whether a load of `key` is running. */
  has(key: string): boolean {
    return this.flights.has(key);
  }

  /** Returns the flight for `key`, starting `load` only if none is running; `joined` tells which happened. */
  run<T>(key: string, load: (flight: Flight<T>) => Promise<T>): { flight: Flight<T>; joined: boolean } {
    const existing = this.flights.get(key) as Flight<T> | undefined;
    // A load invalidated while it runs may return the old value: a caller arriving after the invalidation (e.g. right
    // after its own write) starts a fresh load instead of joining it.
    if (existing && !existing.invalidated) return { flight: existing, joined: true };
    const flight = { invalidated: false } as { promise: Promise<T>; invalidated: boolean };
    // Registered before the load starts, so a load that settles synchronously still removes itself.
    this.flights.set(key, flight as Flight<unknown>);
    flight.promise = (async () => {
      try {
        return await load(flight);
      } finally {
        if (this.flights.get(key) === flight) this.flights.delete(key);
      }
    })();
    return { flight, joined: false };
  }

  /** Marks in-flight loads of these keys as invalidated (their results will not be cached). */
  invalidate(keys: readonly string[]): void {
    for (const key of keys) {
      this.reads.delete(key);
      const flight = this.flights.get(key);
      if (flight) flight.invalidated = true;
    }
  }

  /** Marks every in-flight load whose key starts with `keyPrefix` (or all, with ''). */
  invalidatePrefix(keyPrefix: string): void {
    for (const [key, flight] of this.flights.entries()) if (key.startsWith(keyPrefix)) flight.invalidated = true;
    for (const key of this.reads.keys()) if (key.startsWith(keyPrefix)) this.reads.delete(key);
  }
}

/**
 * A read in progress shared by the callers of its key that arrive meanwhile: their promise is made by the first of
 * them (at concurrency 1 none is), and settled by the read's owner.
 */
export class SharedRead<R> {
  private waiting:
    { promise: Promise<R>; resolve: (value: R | Promise<R>) => void; reject: (err: unknown) => void } | undefined;

  /** The read's outcome, for a caller that joins it. */
  join(): Promise<R> {
    if (this.waiting === undefined) {
      let resolve!: (value: R | Promise<R>) => void;
      let reject!: (err: unknown) => void;
      const promise = new Promise<R>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.waiting = { promise, resolve, reject };
    }
    return this.waiting.promise;
  }

  resolve(value: R | Promise<R>): void {
    this.waiting?.resolve(value);
  }

  reject(err: unknown): void {
    this.waiting?.reject(err);
  }
}
