import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { OnModuleDestroy } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import type { CacheEntry, ListReadResult, Miss, ReadResult } from './backends/cache-entry.js';
import { liveToken } from './backends/cache-entry.js';
import { CacheStore } from './backends/cache-store.js';
import { isLeaseBackend } from './backends/lease-backend.interface.js';
import { CACHE_BACKEND, CACHE_OPTIONS } from './cache.constants.js';
import { toStorable } from './codec/class-transformer.adapter.js';
import { encodeEntry } from './codec/entry.codec.js';
import { CacheError } from './errors/cache.error.js';
import { ErrorMessages } from './errors/error-messages.js';
import { CacheEvents } from './events/cache.events.js';
import type { CacheBackendEvent, CacheInvalidatedEvent } from './events/cache.events.js';
import { composePrefix } from './keys/composite-key.js';
import type { KeyPart } from './keys/composite-key.js';
import { fullKey, namespacePrefix, toKey } from './keys/key.encoder.js';
import type { CacheOperation, CacheOutcome, CacheRecorder, CacheTier } from './observability/cache-recorder.js';
import { CACHE_RECORDERS } from './observability/cache-recorder.js';
import { CacheStatsRecorder } from './observability/cache-stats.recorder.js';
import type { NamespaceStats } from './observability/cache-stats.recorder.js';
import type { LeaseOptions, Ttl } from './options/cache-options.interface.js';
import { parseDuration } from './options/duration.js';
import { resolvePolicy } from './options/load-policy.js';
import type { LoadOverrides, LoadPolicy } from './options/load-policy.js';
import { NAME_PATTERN } from './options/options.resolver.js';
import type { ResolvedCacheOptions, ResolvedNamespace } from './options/resolved-options.js';
import { Budget } from './resilience/budget.js';
import { runLoader } from './resilience/loader-runner.js';
import type { Flight } from './resilience/single-flight.js';
import { ThrottledLogger } from './resilience/throttled-logger.js';
import type { WarmEntries, WarmOptions, WarmReport } from './warming/warm.types.js';

/** Options of one write. */
export interface CacheSetOptions<T = unknown> {
  /** Overrides the namespace TTL: a duration, or a function of the value (e.g. until midnight). */
  ttl?: Ttl | ((value: T) => number | string);
  /** Tags to invalidate the entry by, or a function of the value. */
  tags?: readonly string[] | ((value: T) => readonly string[]);
}

/** Options of getOrSet (each overrides the namespace's setting for this call). */
export interface GetOrSetOptions<T = unknown> extends CacheSetOptions<T> {
  /** Cache a `null` result. @default the module's `cacheNull` (true) */
  cacheNull?: boolean;
  /** Fail-safe grace: keep the entry this long past its TTL, to serve it when the source fails. */
  grace?: number | string;
  /** With a stale value in grace, answer with it when the loader is slower than this. */
  softTimeout?: number | string;
  /** Cut the loader after this long (stale value if any, else CacheError E_TIMEOUT). */
  hardTimeout?: number | string;
  /** Refresh in the background once this fraction of the TTL has passed. */
  eagerRefresh?: number;
  /** One loader across all instances (Redis). */
  lease?: boolean | LeaseOptions;
}

/** Options of the list operations. */
export interface ListOptions {
  /** Keep only the last N items. */
  maxLength: number;
  /** TTL of the list; every append slides it. @default the namespace TTL */
  ttl?: number | string;
}

/** What `stats()` returns. */
export interface CacheStatsSnapshot {
  enabled: boolean;
  backend: 'memory' | 'redis' | 'tiered';
  redisConnected: boolean | null;
  /** Circuit breaker of the Redis connection (null without Redis). */
  breaker: 'closed' | 'open' | 'half-open' | null;
  memory: { entries: number; bytes: number } | null;
  /** Memory-tier entries evicted for space since boot. */
  evictions: number;
  inFlight: number;
  /** Invalidations waiting for Redis to come back. */
  pendingInvalidations: number;
  /** Invalidations that did not fit the queue since boot (their namespaces, or the whole prefix, were cleared instead). */
  pendingInvalidationsDropped: number;
  namespaces: Record<string, NamespaceStats & { hitRate: number }>;
}

/** A once-per-deploy warming lease is kept (not released) so later instances of the deploy skip. */
const WARM_LEASE_TTL_MS = 24 * 3_600_000;
const MUTATIONS = new Set<CacheOperation>(['delete', 'invalidate', 'clear']);
/** The answer of a read that could not reach the backend: a miss with no usable state token. */
const FAILED_READ: Miss & { failed: true } = Object.freeze({ hit: false, token: null, failed: true });
/** A read while missed invalidations are being redone: a miss whose guard token matches nothing (no write lands). */
const RECOVERING_MISS: Miss & { failed: true } = Object.freeze({ hit: false, token: 'recovering', failed: true });

/**
 * The imperative API, and the engine behind the decorators. Fails open: a backend error or timeout is logged
 * (rate-limited), counted, and answered as a miss, so callers always get the source's value; invalidations that
 * could not reach Redis are redone when it is back.
 * @example
 * const stats = await cache.getOrSet('stats', `daily:${userId}:${day}`, () => this.loadStats(userId, day), { ttl: untilMidnight });
 */
@Injectable()
export class CacheService implements OnModuleDestroy {
  private readonly logger: ThrottledLogger;
  private readonly statsRecorder = new CacheStatsRecorder();
  private readonly recorders: CacheRecorder[];
  private readonly policies = new Map<string, LoadPolicy>();
  /** Keys whose flight is a background refresh: callers answer from the still-fresh entry instead of joining it. */
  private readonly refreshing = new Set<string>();
  /** Backend reads shared by the callers of a key while it refreshes. */
  private readonly readsBehindRefresh = new Map<string, Promise<ReadResult<unknown> & { failed?: boolean }>>();
  /** Loads that answered with a stale value (soft timeout) and still run: no second load of their key meanwhile. */
  private readonly lateLoads = new Map<string, Promise<unknown>>();
  private readonly warmers = new Map<string, () => Promise<WarmReport>>();
  private replaying = false;

  /** Invalidations taken from the replay queue by the replay in progress (still pending until it succeeds). */
  private replayInFlight = 0;
  /** The retry of a replay that failed (or was never triggered) while Redis is reachable. */
  private replayRetry: NodeJS.Timeout | undefined;

  /**
   * True while invalidations missed during an outage are being redone — or are still queued while Redis is reachable
   * (a replay failed, e.g. timed out, and waits for its retry): reads bypass the cache meanwhile, since Redis may
   * still hold what those invalidations remove.
   */
  private get recovering(): boolean {
    return this.replaying || (this.store.replay.size > 0 && this.store.redisConnected);
  }

  constructor(
    @Inject(CACHE_OPTIONS) private readonly options: ResolvedCacheOptions,
    @Inject(CACHE_BACKEND) private readonly store: CacheStore,
    @Optional() @Inject(CACHE_RECORDERS) recorders?: CacheRecorder[],
    @Optional() private readonly events?: EventEmitter2,
  ) {
    this.logger = new ThrottledLogger(new Logger(CacheService.name), options.logThrottleMs);
    this.recorders = [this.statsRecorder, ...(recorders ?? [])];
    store.setHooks({
      onRemoteInvalidation: (msg) =>
        this.emit(CacheEvents.invalidated, {
          origin: 'remote',
          ...(msg.keys ? { keys: msg.keys } : {}),
          ...(msg.tags ? { tags: msg.tags } : {}),
        } satisfies CacheInvalidatedEvent),
      onConnectionChange: (up, reason) => {
        if (!up)
          this.logger.warn('redis-down', `Redis connection lost (${reason ?? 'unknown'}); serving from the source.`);
        else {
          // A reconnect may be a failover to a replica that missed acknowledged invalidations: redo the recent ones.
          const recent = this.store.recent.take();
          for (const p of recent.prefixes) this.store.replay.addPrefix(p);
          this.store.replay.addKeys(recent.keys, `${this.options.prefix}:`);
          this.store.replay.addTags(recent.tags, this.options.prefix);
          void this.replay();
        }
        this.emit(up ? CacheEvents.backendUp : CacheEvents.backendDown, {
          backend: 'redis',
          ...(reason ? { reason } : {}),
        } satisfies CacheBackendEvent);
      },
      onBreakerClosed: () => void this.replay(),
      onWarning: (topic, message) => this.logger.warn(topic, message),
    });
  }

  /** Adds a sink for cache events (the metrics module registers one). Labels it receives are bounded. */
  addRecorder(recorder: CacheRecorder): void {
    this.recorders.push(recorder);
  }

  /** Whether caching is on (`enabled` option / CACHE_ENABLED). */
  get enabled(): boolean {
    return this.options.enabled;
  }

  /** Reads a value; undefined on a miss (null, 0, '' and false are real hits; stale entries are misses). */
  async get<T>(namespace: string, key: unknown): Promise<T | undefined> {
    if (!this.options.enabled) return undefined;
    const k = this.key(namespace, key);
    const local = this.store.peek<T>(k);
    if (local !== undefined && local.expiresAt > Date.now()) {
      this.count(namespace, 'memory', 'get', 'hit');
      return local.value;
    }
    const result = await this.read<T>(namespace, k, new Budget(this.options.commandTimeoutMs));
    return result.hit && result.entry.expiresAt > Date.now() ? result.entry.value : undefined;
  }

  /** Writes a value (unconditionally, write-through). Returns false when it was not cached (too big, backend down). */
  async set<T>(namespace: string, key: unknown, value: T, options?: CacheSetOptions<T>): Promise<boolean> {
    if (!this.options.enabled || value === undefined) return false;
    return this.put(namespace, this.key(namespace, key), value, options);
  }

  /** Removes entries; other instances' memory tiers drop them too. */
  async delete(namespace: string, keys: unknown | readonly unknown[]): Promise<void> {
    if (!this.options.enabled) return;
    const list = (Array.isArray(keys) ? keys : [keys]).map((key) => this.key(namespace, key));
    await this.deleteKeys(namespace, list);
  }

  /**
   * Returns the cached value, or runs `loader` once per key per process (concurrent callers share its value or
   * error), caches its result and returns it. Errors of the loader propagate and are never cached.
   */
  async getOrSet<T>(
    namespace: string,
    key: unknown,
    loader: () => Promise<T> | T,
    options?: GetOrSetOptions<T>,
  ): Promise<T> {
    if (!this.options.enabled) return loader();
    let k: string;
    try {
      k = this.key(namespace, key);
    } catch (err) {
      if (!(err instanceof CacheError) || err.code !== 'E_UNSERIALIZABLE_KEY') throw err;
      this.logger.warn(`key:${namespace}`, err.message);
      this.count(namespace, 'source', 'get', 'bypass');
      return loader();
    }
    const tags = options?.tags;
    return this.getOrLoad(
      namespace,
      k,
      loader,
      this.policy(namespace, options as LoadOverrides | undefined),
      tags as CacheSetOptions<T>['tags'],
    );
  }

  /**
   * The resolved loading policy of a namespace with overrides (decorators resolve theirs once at boot).
   * Without overrides the result is memoised per namespace.
   */
  policy(namespace: string, overrides?: LoadOverrides): LoadPolicy {
    const plain = overrides === undefined || Object.keys(overrides).every((k) => k === 'tags');
    if (plain) {
      const cached = this.policies.get(namespace);
      if (cached) return cached;
    }
    const policy = resolvePolicy(
      checkNamespace(namespace),
      this.namespaceOptions(namespace),
      overrides,
      this.options.cacheNull,
    );
    if (plain) this.policies.set(namespace, policy);
    return policy;
  }

  /** getOrSet with a full key and a resolved policy (the decorators' hot path). */
  getOrLoad<T>(
    namespace: string,
    k: string,
    loader: () => Promise<T> | T,
    policy: LoadPolicy,
    tags?: CacheSetOptions<T>['tags'],
  ): Promise<T> {
    const local = this.store.peek<T>(k);
    const now = Date.now();
    if (local !== undefined && local.expiresAt > now) {
      this.count(namespace, 'memory', 'get', 'hit');
      if (policy.eagerRefresh !== undefined && isDueForRefresh(local, policy.eagerRefresh, now))
        this.refresh(namespace, k, loader, policy, tags);
      return Promise.resolve(local.value);
    }
    if (this.refreshing.has(k)) return this.readBehindRefresh(namespace, k, loader, policy, tags);
    const { flight, joined } = this.store.flights.run<T>(k, (self) =>
      this.load(namespace, k, loader, policy, tags, self, local),
    );
    if (joined) this.count(namespace, 'source', 'load', 'wait');
    return flight.promise;
  }

  /** Atomically replaces a cached value with `fn(current)` (e.g. a balance after a charge); no-op on a miss. */
  async update<T>(namespace: string, key: unknown, fn: (current: T) => T | undefined): Promise<T | undefined> {
    if (!this.options.enabled) return undefined;
    const k = this.key(namespace, key);
    this.store.flights.invalidate([k]);
    this.store.dropLocal({ keys: [k] });
    // A write the primary acknowledged may not have reached a replica before a failover: redo it as an invalidation.
    this.store.recent.addKeys([k]);
    const result = await this.guard(
      namespace,
      'update',
      () => this.store.backend.update<T>(k, fn),
      undefined,
      () => this.queueKeys(namespace, [k]),
    );
    void this.store.publish({ keys: [k] });
    return result;
  }

  /** Reads a cached list; undefined on a miss (an empty list is a hit). */
  async getList<T>(namespace: string, key: unknown): Promise<T[] | undefined> {
    if (!this.options.enabled) return undefined;
    const result = await this.readList<T>(namespace, this.key(namespace, key));
    return result.hit ? result.items : undefined;
  }

  /** Returns the cached list, or loads, caches (last `maxLength`) and returns it. */
  async getOrSetList<T>(
    namespace: string,
    key: unknown,
    loader: () => Promise<T[]> | T[],
    options: ListOptions,
  ): Promise<T[]> {
    if (!this.options.enabled) return loader();
    const k = this.key(namespace, key);
    const ttlMs = this.listTtl(namespace, options);
    const { flight } = this.store.flights.run<T[]>(k, async (self) => {
      // One cache-I/O budget for the read and the write: a read that timed out leaves the write nothing to wait on.
      const budget = new Budget(this.options.commandTimeoutMs);
      const read = await this.readList<T>(namespace, k, budget);
      if (read.hit) return read.items;
      const items = (await loader()).slice(-options.maxLength);
      if (!self.invalidated) {
        const backend = this.store.backend;
        await this.guard(
          namespace,
          'set',
          () =>
            budget.run(backend.kind, 'set', () =>
              backend.writeList(k, items, options.maxLength, ttlMs, { ifToken: read.token }),
            ),
          false,
        );
      }
      return items;
    });
    return flight.promise;
  }

  /** Replaces a whole cached list with its last `maxLength` items. */
  async setList<T>(namespace: string, key: unknown, items: readonly T[], options: ListOptions): Promise<boolean> {
    if (!this.options.enabled) return false;
    const k = this.key(namespace, key);
    this.store.flights.invalidate([k]);
    this.store.dropLocal({ keys: [k] });
    // A write the primary acknowledged may not have reached a replica before a failover: redo it as an invalidation.
    this.store.recent.addKeys([k]);
    const ttlMs = this.listTtl(namespace, options);
    const ok = await this.guard(
      namespace,
      'set',
      () => this.store.backend.writeList(k, items, options.maxLength, ttlMs),
      false,
      () => this.queueKeys(namespace, [k]),
    );
    void this.store.publish({ keys: [k] });
    return ok;
  }

  /**
   * Atomically appends to a cached list, keeping the last `maxLength` items (one Lua script in Redis). If the list
   * is not cached nothing is written — the next read loads the full list from the source.
   */
  async append<T>(namespace: string, key: unknown, items: T | readonly T[], options: ListOptions): Promise<boolean> {
    if (!this.options.enabled) return false;
    const k = this.key(namespace, key);
    this.store.flights.invalidate([k]);
    this.store.dropLocal({ keys: [k] });
    // A write the primary acknowledged may not have reached a replica before a failover: redo it as an invalidation.
    this.store.recent.addKeys([k]);
    const list = Array.isArray(items) ? (items as readonly T[]) : [items as T];
    const ttlMs = this.listTtl(namespace, options);
    // A failed append leaves the cached list behind the source: drop it when Redis is back.
    const ok = await this.guard(
      namespace,
      'append',
      () => this.store.backend.append(k, list, options.maxLength, ttlMs),
      false,
      () => this.queueKeys(namespace, [k]),
    );
    void this.store.publish({ keys: [k] });
    return ok;
  }

  /** Removes every entry tagged with any of `tags`, on every instance; returns how many entries went. */
  async invalidateTags(tags: readonly string[]): Promise<number> {
    if (!this.options.enabled || tags.length === 0) return 0;
    const list = tags.map((tag) => checkTag(tag));
    this.store.flights.invalidatePrefix('');
    this.store.dropLocal({ tags: list });
    this.store.recent.addTags(list);
    const count = await this.guard(
      '_tags',
      'invalidate',
      () => this.store.backend.invalidateTags(this.options.prefix, list),
      0,
      () => this.store.replay.addTags(list, this.options.prefix),
    );
    void this.store.publish({ tags: [...list] });
    this.emit(CacheEvents.invalidated, { tags: [...list], origin: 'local' } satisfies CacheInvalidatedEvent);
    return count;
  }

  /** Removes every entry of a namespace (SCAN + UNLINK inside the prefix, on every master); returns the count. */
  async clearNamespace(namespace: string): Promise<number> {
    if (!this.options.enabled) return 0;
    const keyPrefix = namespacePrefix(this.options.prefix, checkNamespace(namespace));
    return this.clearKeyPrefix(namespace, keyPrefix);
  }

  /**
   * Removes every entry of a namespace whose key starts with `parts` — keys built with `composeKey(...)`, e.g.
   * `invalidatePrefix('stats', [userId])` removes `composeKey(userId, day)` for every day. Parts are escaped (no glob
   * injection); the scan stays inside `<prefix>:<namespace>:`, runs SCAN + UNLINK in batches on every master, and
   * returns how many entries went. Prefer tags when the set is known at write time: they cost O(members), not a scan.
   */
  async invalidatePrefix(namespace: string, parts: readonly KeyPart[]): Promise<number> {
    if (!this.options.enabled) return 0;
    if (parts.length === 0) return this.clearNamespace(namespace);
    const parts_ = composePrefix(parts);
    // Mirror fullKey: a key starting with '#' is stored with the '#' doubled (composed keys over 200 characters are
    // hashed whole and reachable only by their exact key or a tag).
    const keyPrefix =
      namespacePrefix(this.options.prefix, checkNamespace(namespace)) +
      (parts_.startsWith('#') ? `#${parts_}` : parts_);
    return this.clearKeyPrefix(namespace, keyPrefix);
  }

  /**
   * Writes entries into a namespace (cache warming): from pairs, a Map, or a function producing them. With
   * `once`, only the first instance of this deploy to take the lease writes; the others report `skipped`.
   * Never throws for cache trouble (entries that cannot be cached are counted in `failed`); a throwing source
   * propagates.
   * @example await cache.warm('models', () => db.models().then((ms) => ms.map((m) => [m.id, m] as const)), { once: 'models' });
   */
  async warm(
    namespace: string,
    source: WarmEntries | (() => Promise<WarmEntries> | WarmEntries),
    options: WarmOptions = {},
  ): Promise<WarmReport> {
    const started = performance.now();
    const report = (written: number, failed: number, skipped: boolean): WarmReport => ({
      namespace,
      written,
      failed,
      skipped,
      ms: Math.round(performance.now() - started),
    });
    if (!this.options.enabled) return report(0, 0, true);
    checkNamespace(namespace);
    let lease: { key: string; holder: string } | undefined;
    const backend = this.store.backend;
    if (options.once !== undefined && isLeaseBackend(backend)) {
      const key = `${this.options.prefix}:__warm:${options.once}:${this.options.deployId}`;
      const got = await this.guard(
        namespace,
        'lease',
        () => backend.acquireLease(key, this.store.instanceId, WARM_LEASE_TTL_MS),
        undefined,
      );
      if (got === false) {
        this.logger.log(
          `warm:${namespace}`,
          `warming of "${namespace}" (${options.once}) skipped: another instance did it for deploy ${this.options.deployId}.`,
        );
        this.count(namespace, this.tierOf(), 'warm', 'skipped');
        return report(0, 0, true);
      }
      if (got) lease = { key, holder: this.store.instanceId };
    }
    let entries: WarmEntries;
    try {
      entries = typeof source === 'function' ? await source() : source;
    } catch (err) {
      // Let another instance (or a later call) try again.
      if (lease) await this.releaseLease(namespace, lease);
      throw err;
    }
    let written = 0;
    let failed = 0;
    const batch: Promise<boolean>[] = [];
    const flush = async (): Promise<void> => {
      for (const ok of await Promise.all(batch.splice(0))) {
        if (ok) written++;
        else failed++;
      }
    };
    const setOptions = {
      ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
      ...(options.tags ? { tags: options.tags } : {}),
    };
    for (const [key, value] of entries) {
      batch.push(this.set(namespace, key, value, setOptions).catch(() => false));
      if (batch.length >= 32) await flush();
    }
    await flush();
    const result = report(written, failed, false);
    this.count(namespace, this.tierOf(), 'warm', 'ok', result.ms);
    this.logger.log(
      `warm:${namespace}`,
      `warmed ${written} entries into "${namespace}" in ${result.ms} ms${failed ? ` (${failed} not cached)` : ''}.`,
    );
    return result;
  }

  /** Registers a warmer (the explorer does this for `@WarmUp` methods). */
  registerWarmer(name: string, run: () => Promise<WarmReport>): void {
    this.warmers.set(name, run);
  }

  /** Runs every registered warmer now (e.g. from an admin endpoint); failures are reported, not thrown. */
  async warmAll(): Promise<{ name: string; report?: WarmReport; error?: string }[]> {
    return Promise.all(
      [...this.warmers].map(async ([name, run]) => {
        try {
          return { name, report: await run() };
        } catch (err) {
          this.logger.warn(`warm-fail:${name}`, `warmer ${name} failed: ${(err as Error)?.message ?? String(err)}`);
          return { name, error: (err as Error)?.message ?? String(err) };
        }
      }),
    );
  }

  /** Clears everything under a server-built key prefix, here and on every instance (replayed if Redis is down). */
  private async clearKeyPrefix(namespace: string, keyPrefix: string): Promise<number> {
    this.store.flights.invalidatePrefix(keyPrefix);
    this.store.dropLocal({ prefix: keyPrefix });
    this.store.recent.addPrefixes([keyPrefix]);
    const count = await this.guard(
      namespace,
      'clear',
      () => this.store.backend.clearPrefix(keyPrefix),
      0,
      () => this.store.replay.addPrefix(keyPrefix),
    );
    void this.store.publish({ clear: keyPrefix });
    this.emit(CacheEvents.invalidated, { namespace, origin: 'local' } satisfies CacheInvalidatedEvent);
    return count;
  }

  /** The full key (`<prefix>:<namespace>:<key>`) an entry is stored under. */
  key(namespace: string, key: unknown): string {
    return fullKey(this.options.prefix, checkNamespace(namespace), toKey(key));
  }

  /** Removes entries by full key (the decorators' path). */
  async deleteKeys(namespace: string, keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    this.store.flights.invalidate(keys);
    this.store.dropLocal({ keys });
    this.store.recent.addKeys(keys);
    await this.guard(
      namespace,
      'delete',
      () => this.store.backend.delete(keys),
      undefined,
      () => this.queueKeys(namespace, keys),
    );
    void this.store.publish({ keys: [...keys] });
    this.emit(CacheEvents.invalidated, { namespace, keys: [...keys], origin: 'local' } satisfies CacheInvalidatedEvent);
  }

  /** Writes by full key, unconditionally (the decorators' write-through path). */
  async put<T>(namespace: string, k: string, value: T, options?: CacheSetOptions<T>): Promise<boolean> {
    if (value === undefined) return false;
    this.store.flights.invalidate([k]);
    this.store.dropLocal({ keys: [k] });
    // A write the primary acknowledged may not have reached a replica before a failover: redo it as an invalidation.
    this.store.recent.addKeys([k]);
    const policy = this.policy(namespace, options?.ttl === undefined ? undefined : { ttl: options.ttl as Ttl });
    const written = await this.write(
      namespace,
      k,
      value,
      policy,
      options?.tags,
      undefined,
      new Budget(this.options.commandTimeoutMs),
      true,
    );
    void this.store.publish({ keys: [k] });
    return written;
  }

  /** Hit rates, counters, memory usage, breaker state and in-flight loads. */
  stats(): CacheStatsSnapshot {
    const namespaces = Object.fromEntries(
      Object.entries(this.statsRecorder.snapshot()).map(([ns, s]) => [
        ns,
        { ...s, hitRate: s.hits + s.misses === 0 ? 0 : s.hits / (s.hits + s.misses) },
      ]),
    );
    return {
      enabled: this.options.enabled,
      backend: this.store.backend.kind,
      redisConnected: this.store.redis ? this.store.redisConnected : null,
      breaker: this.store.breaker?.state ?? null,
      memory: this.store.memoryUsage,
      evictions: this.store.evictions,
      inFlight: this.store.flights.size,
      pendingInvalidations: this.store.replay.size + this.replayInFlight,
      pendingInvalidationsDropped: this.store.replay.dropped,
      namespaces,
    };
  }

  async onModuleDestroy(): Promise<void> {
    if (this.replayRetry) clearTimeout(this.replayRetry);
    await this.store.close();
  }

  /** The resolved settings of a namespace (its own, or the defaults). */
  namespaceOptions(namespace: string): ResolvedNamespace {
    return this.options.namespaces.get(namespace) ?? this.options.defaultNamespace;
  }

  /** A miss (or a stale hit) of one key: read through the tiers, load once, cache under a guard. */
  private async load<T>(
    namespace: string,
    k: string,
    loader: () => Promise<T> | T,
    policy: LoadPolicy,
    tags: CacheSetOptions<T>['tags'],
    self: Flight<T>,
    localStale: CacheEntry<T> | undefined,
  ): Promise<T> {
    const budget = new Budget(this.options.commandTimeoutMs);
    const read = await this.read<T>(namespace, k, budget);
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
      this.count(namespace, 'source', 'load', 'stale');
      return stale.value;
    }
    const token = read.hit ? (read.token ?? null) : read.token;
    let lease: { key: string; holder: string } | undefined;
    if (policy.lease && !read.failed) {
      const waited = await this.awaitLease<T>(namespace, k, policy.lease);
      if (waited.value !== undefined) return waited.value.value;
      lease = waited.lease;
    }
    try {
      const outcome = await runLoader(loader, policy, stale);
      if (outcome.kind === 'fresh') {
        await this.cacheLoaded(namespace, k, outcome.value, policy, tags, self, token, budget);
        return outcome.value;
      }
      this.count(namespace, 'source', 'load', 'stale');
      this.logger.warn(`stale:${namespace}`, `served a stale value in namespace "${namespace}" (${outcome.reason}).`);
      if (outcome.late) {
        const late = outcome.late.then(
          (value) =>
            this.cacheLoaded(
              namespace,
              k,
              value,
              policy,
              tags,
              self,
              stale ? liveToken(stale) : token,
              new Budget(this.options.commandTimeoutMs),
            ),
          (err: unknown) =>
            this.logger.warn(
              `late:${namespace}`,
              `a load that timed out failed later: ${(err as Error)?.message ?? String(err)}`,
            ),
        );
        this.trackLateLoad(k, late, policy.hardTimeoutMs);
      }
      return outcome.value;
    } catch (err) {
      if (err instanceof CacheError && err.code === 'E_TIMEOUT') this.count(namespace, 'source', 'load', 'timeout');
      throw err;
    } finally {
      if (lease) void this.releaseLease(namespace, lease);
    }
  }

  private async cacheLoaded<T>(
    namespace: string,
    k: string,
    value: T,
    policy: LoadPolicy,
    tags: CacheSetOptions<T>['tags'],
    self: Flight<T>,
    token: string | null,
    budget: Budget,
  ): Promise<void> {
    if (self.invalidated) {
      this.count(namespace, 'source', 'set', 'skipped');
      return;
    }
    if (value === undefined || (value === null && !policy.cacheNull)) return;
    await this.write(namespace, k, value, policy, tags, token, budget, false);
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
  private refresh<T>(
    namespace: string,
    k: string,
    loader: () => Promise<T> | T,
    policy: LoadPolicy,
    tags: CacheSetOptions<T>['tags'],
  ): void {
    if (this.store.flights.has(k)) return;
    this.refreshing.add(k);
    const { flight } = this.store.flights.run<T>(k, async (self) => {
      try {
        const budget = new Budget(this.options.commandTimeoutMs);
        const read = await this.read<T>(namespace, k, budget);
        const value = await loader();
        const token = read.hit ? (read.token ?? liveToken(read.entry)) : read.token;
        await this.cacheLoaded(namespace, k, value, policy, tags, self, token, budget);
        this.count(namespace, 'source', 'load', 'refresh');
        return value;
      } finally {
        this.refreshing.delete(k);
      }
    });
    flight.promise.catch((err: unknown) =>
      this.logger.warn(
        `refresh:${namespace}`,
        `background refresh failed in "${namespace}": ${(err as Error)?.message ?? String(err)}`,
      ),
    );
  }

  /**
   * A call while the key refreshes in the background: the stored entry is still fresh (that is why it refreshes), so
   * answer from it — one shared backend read — instead of waiting for the loader. Only a miss joins the refresh.
   */
  private async readBehindRefresh<T>(
    namespace: string,
    k: string,
    loader: () => Promise<T> | T,
    policy: LoadPolicy,
    tags: CacheSetOptions<T>['tags'],
  ): Promise<T> {
    let reading = this.readsBehindRefresh.get(k) as Promise<ReadResult<T> & { failed?: boolean }> | undefined;
    if (!reading) {
      const started = this.read<T>(namespace, k, new Budget(this.options.commandTimeoutMs));
      this.readsBehindRefresh.set(k, started);
      const forget = (): void => {
        if (this.readsBehindRefresh.get(k) === started) this.readsBehindRefresh.delete(k);
      };
      started.then(forget, forget);
      reading = started;
    }
    const read = await reading;
    if (read.hit && read.entry.expiresAt > Date.now()) return read.entry.value;
    const { flight } = this.store.flights.run<T>(k, (self) =>
      this.load(namespace, k, loader, policy, tags, self, read.hit ? read.entry : undefined),
    );
    return flight.promise;
  }

  /**
   * Distributed stampede lease: take it (then this instance loads), or wait for the holder's value, polling with a
   * bound; if the holder dies (its lease expires) take over.
   */
  private async awaitLease<T>(
    namespace: string,
    k: string,
    lease: { ttlMs: number; waitMs: number },
  ): Promise<{ value?: { value: T }; lease?: { key: string; holder: string } }> {
    const backend = this.store.backend;
    if (!isLeaseBackend(backend)) return {};
    const leaseKey = `${this.options.prefix}:__lease:${k.slice(this.options.prefix.length + 1)}`;
    const holder = randomUUID();
    const deadline = Date.now() + lease.waitMs;
    let delay = 10;
    while (true) {
      const got = await this.guard(
        namespace,
        'lease',
        () => backend.acquireLease(leaseKey, holder, lease.ttlMs),
        undefined,
      );
      if (got === undefined) return {};
      if (got) return { lease: { key: leaseKey, holder } };
      this.count(namespace, 'source', 'load', 'wait');
      while (Date.now() < deadline) {
        await sleep(delay);
        delay = Math.min(delay * 2, 100);
        const read = await this.read<T>(namespace, k, new Budget(this.options.commandTimeoutMs));
        if (read.hit && read.entry.expiresAt > Date.now()) return { value: { value: read.entry.value } };
        if (read.failed) return {};
        const held = await this.guard(namespace, 'lease', () => backend.leaseHeld(leaseKey), true);
        if (!held) break;
      }
      if (Date.now() >= deadline) return {};
    }
  }

  private async releaseLease(namespace: string, lease: { key: string; holder: string }): Promise<void> {
    const backend = this.store.backend;
    if (isLeaseBackend(backend))
      await this.guard(namespace, 'lease', () => backend.releaseLease(lease.key, lease.holder), undefined);
  }

  private async read<T>(namespace: string, k: string, budget: Budget): Promise<ReadResult<T> & { failed?: boolean }> {
    const breaker = this.store.breaker;
    if (this.recovering) {
      // Redis is back but the invalidations it missed are still being redone: what it holds may be stale.
      if (!this.replaying) this.scheduleReplay();
      this.count(namespace, this.tierOf(), 'get', 'miss');
      return RECOVERING_MISS;
    }
    if (breaker && !breaker.allow()) {
      this.count(namespace, this.tierOf(), 'get', 'open');
      this.count(namespace, this.tierOf(), 'get', 'miss');
      return FAILED_READ;
    }
    const backend = this.store.backend;
    const started = performance.now();
    let result: ReadResult<T>;
    const fresh = budget.fresh;
    try {
      // With the whole budget left, the client's own command timeout is the deadline: no timer, no extra layer.
      result = fresh ? await backend.read<T>(k) : await budget.run(backend.kind, 'get', () => backend.read<T>(k));
      breaker?.success();
    } catch (err) {
      // A failed read spends its time too: the write after the load gets only what is left (no stacking).
      const ms = performance.now() - started;
      if (fresh) budget.spend(ms);
      this.failure(namespace, 'get', err, undefined, ms);
      this.count(namespace, this.tierOf(), 'get', 'miss');
      return FAILED_READ;
    }
    const ms = performance.now() - started;
    if (fresh) budget.spend(ms);
    const maxBytes = this.namespaceOptions(namespace).maxValueBytes;
    if (result.hit && result.size !== undefined && result.size > maxBytes) {
      // Oversized entries are skipped on read as they are refused on write (written by another version, or not by
      // us): a miss whose token names the entry, so the load replaces exactly it; the memory tier drops its copy.
      this.store.memory?.deleteSync([k]);
      this.logger.warn(`size-read:${namespace}`, ErrorMessages.valueTooLarge(namespace, result.size, maxBytes));
      this.count(namespace, this.tierOf(), 'get', 'refused', ms);
      this.count(namespace, this.tierOf(), 'get', 'miss', ms);
      return { hit: false, token: liveToken(result.entry) };
    }
    if (result.hit) this.count(namespace, result.tier ?? this.tierOf(), 'get', 'hit', ms);
    else {
      if (result.corrupt) this.count(namespace, this.tierOf(), 'get', 'corrupt', ms);
      this.count(namespace, this.tierOf(), 'get', 'miss', ms);
    }
    return result;
  }

  private async readList<T>(
    namespace: string,
    k: string,
    budget = new Budget(this.options.commandTimeoutMs),
  ): Promise<ListReadResult<T>> {
    if (this.recovering) return RECOVERING_MISS;
    const backend = this.store.backend;
    const result = await this.guard<ListReadResult<T>>(
      namespace,
      'get',
      () => budget.run(backend.kind, 'get', () => backend.readList<T>(k)),
      FAILED_READ,
    );
    this.count(namespace, this.tierOf(), 'get', result.hit ? 'hit' : result.corrupt ? 'corrupt' : 'miss');
    return result;
  }

  private async write<T>(
    namespace: string,
    k: string,
    value: T,
    policy: LoadPolicy,
    tagsOption: CacheSetOptions<T>['tags'],
    token: string | null | undefined,
    budget: Budget,
    mustLand: boolean,
  ): Promise<boolean> {
    if (!mustLand && this.store.breaker?.allow() === false) {
      // Nothing would be sent: skip the encoding too.
      this.count(namespace, this.tierOf(), 'set', 'open');
      return false;
    }
    const ttlMs = this.ttl(policy, value);
    const now = Date.now();
    const entry: CacheEntry<T> = { value: toStorable(value), createdAt: now, expiresAt: now + ttlMs };
    let encoded: Buffer;
    try {
      encoded = encodeEntry(entry);
    } catch (err) {
      this.logger.warn(`encode:${namespace}`, ErrorMessages.unserializableValue((err as Error).message));
      this.count(namespace, this.tierOf(), 'set', 'refused');
      if (mustLand) await this.deleteKeys(namespace, [k]);
      return false;
    }
    if (encoded.length > policy.maxValueBytes) {
      this.logger.warn(
        `size:${namespace}`,
        ErrorMessages.valueTooLarge(namespace, encoded.length, policy.maxValueBytes),
      );
      this.count(namespace, this.tierOf(), 'set', 'refused');
      // A write-through that cannot land must not leave the previous value behind.
      if (mustLand) await this.deleteKeys(namespace, [k]);
      return false;
    }
    const tags = typeof tagsOption === 'function' ? tagsOption(value) : tagsOption;
    const writeOptions = {
      ...(tags?.length ? { tags: tags.map(checkTag) } : {}),
      ...(token !== undefined ? { ifToken: token } : {}),
    };
    const storeTtl = ttlMs + policy.graceMs;
    const written = await this.guard(
      namespace,
      'set',
      () =>
        budget.run(this.store.backend.kind, 'set', () =>
          this.store.backend.write(k, entry, encoded, storeTtl, writeOptions),
        ),
      false,
      mustLand ? () => this.queueKeys(namespace, [k]) : undefined,
    );
    this.count(namespace, this.tierOf(), 'set', written ? 'ok' : 'skipped');
    return written;
  }

  /**
   * Runs one backend operation failing open: errors and timeouts become `fallback`, logged and counted; the circuit
   * breaker answers at once while open. `onFail` queues what must be redone when Redis is back.
   */
  private async guard<R>(
    namespace: string,
    operation: CacheOperation,
    op: () => Promise<R>,
    fallback: R,
    onFail?: () => void,
  ): Promise<R> {
    const breaker = this.store.breaker;
    if (breaker && !breaker.allow()) {
      this.count(namespace, this.tierOf(), operation, 'open');
      if (MUTATIONS.has(operation) && onFail) {
        // An invalidation is still attempted (bounded by the command timeout; a dead server fails it at once): on
        // Cluster the breaker is shared by every master, and the healthy ones must drop the key now. The outcome
        // does not move the breaker (the probe does); a failure is replayed.
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
      breaker?.success();
      if (MUTATIONS.has(operation)) this.count(namespace, this.tierOf(), operation, 'ok');
      return result;
    } catch (err) {
      this.failure(namespace, operation, err, onFail);
      return fallback;
    }
  }

  /** Counts, logs (throttled) and reports a failed backend operation to the breaker; queues what must be redone. */
  private failure(namespace: string, operation: CacheOperation, err: unknown, onFail?: () => void, ms?: number): void {
    const breaker = this.store.breaker;
    const message = err instanceof Error ? err.message : String(err);
    if (isOom(message)) {
      // Redis is full, not broken: count a refused write, keep the circuit closed.
      breaker?.success();
      this.count(namespace, this.tierOf(), operation, 'refused');
      this.logger.warn(`oom:${operation}`, `Redis refused a ${operation} (out of memory); answered from the source.`);
      return;
    }
    breaker?.failure();
    const timeout = err instanceof CacheError ? err.code === 'E_TIMEOUT' : /timed out/i.test(message);
    this.count(namespace, this.tierOf(), operation, timeout ? 'timeout' : 'error', ms);
    this.logger.warn(
      `${operation}:${timeout ? 'timeout' : 'error'}`,
      `cache ${operation} failed in namespace "${namespace}" (${message}); answered from the source.`,
    );
    onFail?.();
  }

  private queueKeys(namespace: string, keys: readonly string[]): void {
    if (this.store.redis) this.store.replay.addKeys(keys, namespacePrefix(this.options.prefix, namespace));
  }

  /** Redoes the invalidations that could not reach Redis; re-queues what still fails. */
  private async replay(): Promise<void> {
    if (this.replaying || this.store.replay.size === 0) return;
    this.replaying = true;
    try {
      const pending = this.store.replay.drain();
      this.replayInFlight = pending.keys.length + pending.tags.length + pending.prefixes.length;
      const backend = this.store.backend;
      const prefix = this.options.prefix;
      try {
        for (const p of pending.prefixes) await backend.clearPrefix(p);
        if (pending.keys.length) await backend.delete(pending.keys);
        if (pending.tags.length) await backend.invalidateTags(prefix, pending.tags);
      } catch (err) {
        for (const p of pending.prefixes) this.store.replay.addPrefix(p);
        this.store.replay.addKeys(pending.keys, `${prefix}:`);
        this.store.replay.addTags(pending.tags, prefix);
        this.logger.warn(
          'replay',
          `replaying invalidations failed (${(err as Error).message}); will retry when Redis is back.`,
        );
        // Redis may be up (the replay only timed out): nothing else may trigger a retry, so schedule one.
        this.scheduleReplay();
        return;
      }
      for (const p of pending.prefixes) await this.store.publish({ clear: p });
      if (pending.keys.length) await this.store.publish({ keys: pending.keys });
      if (pending.tags.length) await this.store.publish({ tags: pending.tags });
      this.count('_replay', this.tierOf(), 'invalidate', 'ok');
    } finally {
      this.replayInFlight = 0;
      this.replaying = false;
    }
    // Invalidations queued while this replay ran (e.g. the recent ones a reconnect adds) get their own pass.
    if (this.store.replay.size > 0 && !this.replayRetry) await this.replay();
  }

  /** Retries the replay after the breaker's probe interval, if Redis is connected then (a reconnect replays anyway). */
  private scheduleReplay(): void {
    if (this.replayRetry) return;
    this.replayRetry = setTimeout(() => {
      this.replayRetry = undefined;
      if (this.store.redisConnected) void this.replay();
    }, this.options.breaker.probeIntervalMs);
    this.replayRetry.unref();
  }

  private ttl(policy: LoadPolicy, value: unknown): number {
    const ms = typeof policy.ttl === 'function' ? policy.ttl(value) : policy.ttl;
    const safe = Math.max(1, ms);
    return policy.jitter > 0 ? Math.round(safe * (1 + Math.random() * policy.jitter)) : safe;
  }

  private listTtl(namespace: string, options: ListOptions): number {
    if (!Number.isInteger(options.maxLength) || options.maxLength < 1) {
      throw new CacheError(
        'E_MISUSE',
        ErrorMessages.misuse(
          'list operation',
          `maxLength ${options.maxLength} is not a positive integer`,
          'pass { maxLength: N } with N ≥ 1',
        ),
      );
    }
    const policy = this.policy(namespace);
    return options.ttl === undefined ? this.ttl(policy, undefined) : Math.max(1, parseDuration(options.ttl, 'ttl'));
  }

  private tierOf(): CacheTier {
    return this.store.backend.kind === 'memory' ? 'memory' : 'redis';
  }

  private count(
    namespace: string,
    tier: CacheTier,
    operation: CacheOperation,
    outcome: CacheOutcome,
    ms?: number,
  ): void {
    for (const recorder of this.recorders) recorder.record(namespace, tier, operation, outcome, ms);
  }

  private emit(event: string, payload: object): void {
    try {
      this.events?.emit(event, payload);
    } catch (err) {
      // A throwing listener of ours must not break the cache operation that emitted.
      this.logger.warn(`emit:${event}`, `listener of ${event} threw: ${(err as Error).message}`);
    }
  }
}

function isDueForRefresh(entry: CacheEntry, fraction: number, now: number): boolean {
  return now - entry.createdAt >= (entry.expiresAt - entry.createdAt) * fraction;
}

function isOom(message: string): boolean {
  return message.startsWith('OOM');
}

function checkNamespace(namespace: string): string {
  if (typeof namespace !== 'string' || !NAME_PATTERN.test(namespace) || namespace.startsWith('__')) {
    throw new CacheError('E_MISUSE', ErrorMessages.unknownNamespace(String(namespace)));
  }
  return namespace;
}

function checkTag(tag: string): string {
  if (typeof tag !== 'string' || tag.length === 0 || tag.length > 256) {
    throw new CacheError(
      'E_MISUSE',
      ErrorMessages.misuse(
        'tags',
        `tag ${JSON.stringify(tag)} is not a non-empty string of ≤ 256 characters`,
        'build tags like `user:${id}`',
      ),
    );
  }
  return tag;
}
