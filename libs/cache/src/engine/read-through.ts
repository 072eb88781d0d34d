import type { CacheEntry } from '../backends/cache-entry.js';
import { liveToken } from '../backends/cache-entry.js';
import type { CacheStore } from '../backends/cache-store.js';
import type { TieredBackend } from '../backends/tiered.backend.js';
import { CacheError } from '../errors/cache.error.js';
import { LogMessages } from '../errors/error-messages.js';
import type { CacheTelemetry, NamespaceCounter } from '../observability/cache-telemetry.js';
import type { LoadPolicy } from '../options/load-policy.js';
import { Budget } from '../resilience/budget.js';
import { runLoader } from '../resilience/loader-runner.js';
import type { Flight, SingleFlight } from '../resilience/single-flight.js';
import type { ThrottledLogger } from '../resilience/throttled-logger.js';
import type { EngineRead, EntryReader } from './entry-reader.js';
import type { LoadFence } from '../backends/cache-backend.interface.js';
import type { EntryWriter, TagsOption } from './entry-writer.js';
import type { HeldLease, LoadLease } from './load-lease.js';

type Loader<T> = () => Promise<T> | T;

/**
 * Read-through loading, the path of every `@Cached` call and `getOrSet`: a synchronous memory-tier hit answers at
 * once; otherwise one flight per key per process reads the tiers, (with `lease`) coordinates across instances, runs
 * the loader once under the fail-safe policy, and caches the result with a guarded write. Hot keys refresh in the
 * background before they expire.
 * @example const user = await readThrough.getOrLoad('user', key, () => db.user(42), policy, undefined);
 */
export class ReadThrough {
  /** Keys whose flight is a background refresh: callers answer from the still-fresh entry instead of joining it. */
  private readonly refreshing = new Set<string>();
  /** Backend reads shared by the callers of a key while it refreshes. */
  private readonly readsBehindRefresh = new Map<string, Promise<EngineRead<unknown>>>();
  /** Loads that answered with a stale value (soft timeout) and still run: no second load of their key meanwhile. */
  private readonly lateLoads = new Map<string, Promise<unknown>>();
  /** The in-process tier to peek at (without one a call goes straight to the backend). */
  private readonly local: Pick<TieredBackend, 'peek' | 'fresh'> | undefined;

  constructor(
    private readonly store: CacheStore,
    private readonly flights: SingleFlight,
    private readonly reader: EntryReader,
    private readonly writer: EntryWriter,
    private readonly leases: LoadLease,
    private readonly telemetry: CacheTelemetry,
    private readonly logger: ThrottledLogger,
    private readonly commandTimeoutMs: number,
  ) {
    this.local = store.localTier;
  }

  /**
   * A call's answer from the memory tier, synchronously: the entry when it is fresh and not due for an eager
   * refresh (counted as a hit), otherwise undefined, or null when the tier holds nothing for `k` (or there is none)
   * — then {@link getOrLoad}, told so by `memoryAbsent`. No promise, and one clock read (none for a key the memory
   * tier does not hold).
   */
  memoryHit<T>(k: string, policy: LoadPolicy, counter: NamespaceCounter): CacheEntry<T> | null | undefined {
    const local = this.local;
    if (local === undefined) return null;
    const entry = local.fresh<T>(k);
    if (entry == null) return entry;
    if (policy.eagerRefresh !== undefined && isDueForRefresh(entry, policy.eagerRefresh, Date.now())) return undefined;
    this.telemetry.hit(counter, 'memory');
    return entry;
  }

  /**
   * `counter`: the namespace's counter, when the caller keeps one (a decorated method resolves it at boot).
   * `memoryAbsent`: the caller has just had null from {@link memoryHit} for `k` (synchronously, before this call).
   */
  getOrLoad<T>(
    namespace: string,
    k: string,
    loader: Loader<T>,
    policy: LoadPolicy,
    tags: TagsOption<T>,
    counter?: NamespaceCounter,
    memoryAbsent = false,
  ): Promise<T> {
    // The clock is read only for a key the memory tier holds (a miss goes on to the backend without one).
    const local = memoryAbsent ? undefined : this.local?.peek<T>(k);
    if (local !== undefined) {
      const now = Date.now();
      if (local.expiresAt > now) {
        this.telemetry.hit(counter ?? this.telemetry.counter(namespace), 'memory');
        if (policy.eagerRefresh !== undefined && isDueForRefresh(local, policy.eagerRefresh, now))
          this.refresh(namespace, k, loader, policy, tags);
        return Promise.resolve(local.value);
      }
    }
    if (this.refreshing.has(k)) return this.readBehindRefresh(namespace, k, loader, policy, tags);
    // No load in flight and nothing stale here: read first, outside any flight (a hit — the common case — then
    // costs one backend read and nothing else); only a miss starts (or joins) the key's load.
    if (local === undefined && !this.flights.has(k)) return this.readFirst(namespace, k, loader, policy, tags, counter);
    return this.loadOnce(namespace, k, loader, policy, tags, local, undefined);
  }

  /**
   * The first read of a call, shared with the callers of the key that arrive while it is in flight. The read's
   * answer is counted and judged in this one continuation (the reader's steps, no reaction per layer). The read
   * runs on the client's own command timeout; its time is charged to the call's budget only if a load and a write
   * follow: one cache-I/O budget per call.
   */
  private readFirst<T>(
    namespace: string,
    k: string,
    loader: Loader<T>,
    policy: LoadPolicy,
    tags: TagsOption<T>,
    counter: NamespaceCounter | undefined,
  ): Promise<T> {
    const started = performance.now();
    const joined = this.flights.reading<EngineRead<T>>(k);
    if (joined !== undefined)
      return joined.then((read) => this.afterFirst(namespace, k, loader, policy, tags, read, started));
    const refused = this.reader.refused(namespace, k);
    if (refused !== undefined)
      return Promise.resolve(this.afterFirst(namespace, k, loader, policy, tags, refused, started));
    const shared = this.flights.shareRead<EngineRead<T>>(k);
    // Called only once the memory tier was found not to hold `k` (getOrLoad's peek, just before): the read goes
    // straight to Redis, and this continuation fills the memory tier.
    const fill = this.reader.watch(k);
    return this.reader.send<T>(k, fill).then(
      (answer) => {
        let read: EngineRead<T>;
        try {
          read = this.reader.settle(namespace, k, this.reader.filled(k, fill, answer), this.elapsed(started), counter);
        } catch (err) {
          this.flights.failRead(k, shared, err);
          throw err;
        }
        this.flights.endRead(k, shared, read);
        return this.afterFirst(namespace, k, loader, policy, tags, read, started);
      },
      (err: unknown) => {
        this.reader.unwatch(fill);
        let failed: Promise<EngineRead<T>>;
        try {
          failed = this.reader.failed<T>(namespace, k, err, this.elapsed(started), counter);
        } catch (cause) {
          failed = Promise.reject(cause);
        }
        // Always ended: the callers that joined this read wait on it.
        this.flights.endRead(k, shared, failed);
        return failed.then((read) => this.afterFirst(namespace, k, loader, policy, tags, read, started));
      },
    );
  }

  /** A call's answer once its first read is known: the value of a fresh hit, otherwise the key's one load. */
  private afterFirst<T>(
    namespace: string,
    k: string,
    loader: Loader<T>,
    policy: LoadPolicy,
    tags: TagsOption<T>,
    read: EngineRead<T>,
    started: number,
  ): T | Promise<T> {
    if (read.hit) {
      const now = Date.now();
      if (read.entry.expiresAt > now) {
        if (policy.eagerRefresh !== undefined && isDueForRefresh(read.entry, policy.eagerRefresh, now))
          this.refresh(namespace, k, loader, policy, tags);
        return read.entry.value;
      }
    }
    const budget = new Budget(this.commandTimeoutMs);
    budget.spend(performance.now() - started);
    return this.loadOnce(namespace, k, loader, policy, tags, undefined, { read, budget });
  }

  /** The ms since `started`, for a sink that records durations (none otherwise: no clock read). */
  private elapsed(started: number): number | undefined {
    return this.telemetry.timed ? performance.now() - started : undefined;
  }

  /** Runs (or joins) the one load of a key in this process. */
  private loadOnce<T>(
    namespace: string,
    k: string,
    loader: Loader<T>,
    policy: LoadPolicy,
    tags: TagsOption<T>,
    local: CacheEntry<T> | undefined,
    first: { read: EngineRead<T>; budget: Budget } | undefined,
  ): Promise<T> {
    const { flight, joined } = this.flights.run<T>(k, (self) =>
      this.load(namespace, k, loader, policy, tags, self, local, first),
    );
    if (joined) this.telemetry.count(namespace, 'source', 'load', 'wait');
    return flight.promise;
  }

  /** A miss (or a stale hit) of one key: read through the tiers, load once, cache under a guard. */
  private async load<T>(
    namespace: string,
    k: string,
    loader: Loader<T>,
    policy: LoadPolicy,
    tags: TagsOption<T>,
    self: Flight<T>,
    localStale: CacheEntry<T> | undefined,
    first?: { read: EngineRead<T>; budget: Budget },
  ): Promise<T> {
    const budget = first?.budget ?? new Budget(this.commandTimeoutMs);
    const read = first?.read ?? (await this.reader.read<T>(namespace, k, budget));
    let stale = localStale;
    if (read.hit) {
      const now = Date.now();
      if (read.entry.expiresAt > now) {
        if (policy.eagerRefresh !== undefined && isDueForRefresh(read.entry, policy.eagerRefresh, now)) {
          // The refresh needs this flight's slot: start it once this flight has settled.
          const go = (): void => this.refresh(namespace, k, loader, policy, tags);
          self.promise.then(go, go);
        }
        return read.entry.value;
      }
      stale = read.entry;
    }
    if (stale && this.lateLoads.has(k)) {
      // A load that outlived the soft timeout is still running: keep serving the stale value, never a second load.
      this.telemetry.count(namespace, 'source', 'load', 'stale');
      return stale.value;
    }
    const token = read.hit ? liveToken(read.entry) : read.token;
    let lease: HeldLease | undefined;
    if (policy.lease && !read.failed) {
      const waited = await this.leases.await<T>(namespace, k, policy.lease);
      if (waited.value !== undefined) return waited.value.value;
      lease = waited.lease;
    }
    try {
      // Read before the loader: a clear or tag invalidation from now on keeps what it loads out of the cache.
      // Not after a failed read: Redis did not answer it, and the write could not land either.
      const fence = read.failed ? null : await this.writer.fence(namespace, k, budget);
      const outcome = await runLoader(loader, policy, stale);
      if (outcome.kind === 'fresh') {
        await this.cacheLoaded(namespace, k, outcome.value, policy, tags, self, { token, fence }, budget);
        return outcome.value;
      }
      this.telemetry.count(namespace, 'source', 'load', 'stale');
      this.logger.warn(`stale:${namespace}`, LogMessages.staleServed(namespace, outcome.reason));
      if (outcome.late) {
        const lateToken = stale ? liveToken(stale) : token;
        const late = outcome.late.then(
          (value) =>
            this.cacheLoaded(
              namespace,
              k,
              value,
              policy,
              tags,
              self,
              { token: lateToken, fence },
              new Budget(this.commandTimeoutMs),
            ),
          (err: unknown) => this.logger.warn(`late:${namespace}`, LogMessages.lateLoadFailed(err)),
        );
        this.trackLateLoad(k, late, policy.hardTimeoutMs);
      }
      return outcome.value;
    } catch (err) {
      if (err instanceof CacheError && err.code === 'E_TIMEOUT')
        this.telemetry.count(namespace, 'source', 'load', 'timeout');
      throw err;
    } finally {
      if (lease) void this.leases.release(namespace, lease);
    }
  }

  private async cacheLoaded<T>(
    namespace: string,
    k: string,
    value: T,
    policy: LoadPolicy,
    tags: TagsOption<T>,
    self: Flight<T>,
    load: { token: string | null; fence: LoadFence | null | undefined },
    budget: Budget,
  ): Promise<void> {
    // Invalidated here while it ran, or its fence unknown (Redis did not answer): not cached.
    if (self.invalidated || load.fence === null) {
      this.telemetry.count(namespace, 'source', 'set', 'skipped');
      return;
    }
    if (value === undefined || (value === null && !policy.cacheNull)) return;
    await this.writer.write(namespace, k, value, policy, tags, { token: load.token, fence: load.fence }, budget);
  }

  /** Remembers a late load (until it has cached its value, or the hard timeout passed) so the key is not loaded twice. */
  private trackLateLoad(k: string, late: Promise<unknown>, boundMs: number | undefined): void {
    this.lateLoads.set(k, late);
    const done = (): void => {
      if (timer) clearTimeout(timer);
      if (this.lateLoads.get(k) === late) this.lateLoads.delete(k);
    };
    // A late load that hangs must not pin the stale value forever: past the hard timeout a new load may start.
    const timer = boundMs === undefined ? undefined : setTimeout(done, boundMs).unref();
    late.then(done, done);
  }

  /**
   * Refreshes a hot entry in the background (at most one refresh per key per process at a time). The refresh holds
   * the key's flight, so invalidations mark it and a miss meanwhile joins it; hits read past it (readBehindRefresh).
   */
  private refresh<T>(namespace: string, k: string, loader: Loader<T>, policy: LoadPolicy, tags: TagsOption<T>): void {
    if (this.flights.has(k)) return;
    this.refreshing.add(k);
    const { flight } = this.flights.run<T>(k, async (self) => {
      try {
        const budget = new Budget(this.commandTimeoutMs);
        const read = await this.reader.read<T>(namespace, k, budget);
        const fence = await this.writer.fence(namespace, k, budget);
        const outcome = await runLoader(
          loader,
          { softTimeoutMs: undefined, hardTimeoutMs: policy.hardTimeoutMs },
          undefined,
        );
        const value = outcome.value;
        const token = read.hit ? liveToken(read.entry) : read.token;
        await this.cacheLoaded(namespace, k, value, policy, tags, self, { token, fence }, budget);
        this.telemetry.count(namespace, 'source', 'load', 'refresh');
        return value;
      } finally {
        this.refreshing.delete(k);
      }
    });
    flight.promise.catch((err: unknown) =>
      this.logger.warn(`refresh:${namespace}`, LogMessages.refreshFailed(namespace, err)),
    );
  }

  /**
   * A call while the key refreshes in the background: the stored entry is still fresh (that is why it refreshes), so
   * answer from it — one shared backend read — instead of waiting for the loader. Only a miss joins the refresh.
   */
  private async readBehindRefresh<T>(
    namespace: string,
    k: string,
    loader: Loader<T>,
    policy: LoadPolicy,
    tags: TagsOption<T>,
  ): Promise<T> {
    let reading = this.readsBehindRefresh.get(k) as Promise<EngineRead<T>> | undefined;
    if (!reading) {
      const started = this.reader.read<T>(namespace, k, new Budget(this.commandTimeoutMs));
      this.readsBehindRefresh.set(k, started);
      const forget = (): void => {
        if (this.readsBehindRefresh.get(k) === started) this.readsBehindRefresh.delete(k);
      };
      started.then(forget, forget);
      reading = started;
    }
    const read = await reading;
    if (read.hit && read.entry.expiresAt > Date.now()) return read.entry.value;
    return this.loadOnce(namespace, k, loader, policy, tags, read.hit ? read.entry : undefined, undefined);
  }
}

function isDueForRefresh(entry: CacheEntry, fraction: number, now: number): boolean {
  return now - entry.createdAt >= (entry.expiresAt - entry.createdAt) * fraction;
}
