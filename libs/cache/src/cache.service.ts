import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { OnModuleDestroy } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import type { CacheEntry, Miss, ReadResult } from './backends/cache-entry.js';
import { CacheStore } from './backends/cache-store.js';
import { CACHE_BACKEND, CACHE_OPTIONS } from './cache.constants.js';
import { encodeEntry } from './codec/entry.codec.js';
import { CacheError } from './errors/cache.error.js';
import { ErrorMessages } from './errors/error-messages.js';
import { CacheEvents } from './events/cache.events.js';
import type { CacheBackendEvent, CacheInvalidatedEvent } from './events/cache.events.js';
import { fullKey, namespacePrefix, toKey } from './keys/key.encoder.js';
import type { CacheOperation, CacheOutcome, CacheRecorder, CacheTier } from './observability/cache-recorder.js';
import { CACHE_RECORDERS } from './observability/cache-recorder.js';
import { CacheStatsRecorder } from './observability/cache-stats.recorder.js';
import type { NamespaceStats } from './observability/cache-stats.recorder.js';
import type { Ttl } from './options/cache-options.interface.js';
import { parseDuration } from './options/duration.js';
import { NAME_PATTERN } from './options/options.resolver.js';
import type { ResolvedCacheOptions, ResolvedNamespace, ResolvedTtl } from './options/resolved-options.js';
import { ThrottledLogger } from './resilience/throttled-logger.js';

/** Options of one write. */
export interface CacheSetOptions<T = unknown> {
  /** Overrides the namespace TTL: a duration, or a function of the value (e.g. until midnight). */
  ttl?: Ttl | ((value: T) => number | string);
  /** Tags to invalidate the entry by, or a function of the value. */
  tags?: readonly string[] | ((value: T) => readonly string[]);
}

/** Options of getOrSet. */
export interface GetOrSetOptions<T = unknown> extends CacheSetOptions<T> {
  /** Cache a `null` result. @default the module's `cacheNull` (true) */
  cacheNull?: boolean;
}

/** Options of the list operations. */
export interface ListOptions {
  /** Keep only the last N items. */
  maxLength: number;
  /** TTL of the list; every append slides it. @default the namespace TTL */
  ttl?: Duration;
}

type Duration = number | string;

/** What `stats()` returns. */
export interface CacheStatsSnapshot {
  enabled: boolean;
  backend: 'memory' | 'redis' | 'tiered';
  redisConnected: boolean | null;
  memory: { entries: number; bytes: number } | null;
  inFlight: number;
  namespaces: Record<string, NamespaceStats & { hitRate: number }>;
}

/**
 * The imperative API, and the engine behind the decorators. Fails open: a backend error or timeout is logged
 * (rate-limited), counted, and answered as a miss, so callers always get the source's value.
 * @example
 * const stats = await cache.getOrSet('stats', `daily:${userId}:${day}`, () => this.loadStats(userId, day), { ttl: untilMidnight });
 */
@Injectable()
export class CacheService implements OnModuleDestroy {
  private readonly logger: ThrottledLogger;
  private readonly statsRecorder = new CacheStatsRecorder();
  private readonly recorders: CacheRecorder[];

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
        if (!up) this.logger.warn('redis-down', `Redis connection lost (${reason ?? 'unknown'}); serving from the source.`);
        this.emit(up ? CacheEvents.backendUp : CacheEvents.backendDown, {
          backend: 'redis',
          ...(reason ? { reason } : {}),
        } satisfies CacheBackendEvent);
      },
    });
  }

  /** Whether caching is on (`enabled` option / CACHE_ENABLED). */
  get enabled(): boolean {
    return this.options.enabled;
  }

  /** Reads a value; undefined on a miss (null, 0, '' and false are real hits). */
  async get<T>(namespace: string, key: unknown): Promise<T | undefined> {
    if (!this.options.enabled) return undefined;
    const k = this.key(namespace, key);
    const result = await this.read<T>(namespace, k);
    return result.hit ? result.entry.value : undefined;
  }

  /** Writes a value (unconditionally, write-through). Returns false when it was not cached (too big, backend down). */
  async set<T>(namespace: string, key: unknown, value: T, options?: CacheSetOptions<T>): Promise<boolean> {
    if (!this.options.enabled || value === undefined) return false;
    const k = this.key(namespace, key);
    this.store.flights.invalidate([k]);
    const written = await this.write(namespace, k, value, options, undefined);
    if (written) void this.store.publish({ keys: [k] });
    return written;
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
  async getOrSet<T>(namespace: string, key: unknown, loader: () => Promise<T> | T, options?: GetOrSetOptions<T>): Promise<T> {
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
    return this.getOrLoad(namespace, k, loader, options);
  }

  /** getOrSet with a full key already built (the decorators' path). */
  getOrLoad<T>(namespace: string, k: string, loader: () => Promise<T> | T, options?: GetOrSetOptions<T>): Promise<T> {
    const local = this.store.peek<T>(k);
    if (local !== undefined) {
      this.count(namespace, 'memory', 'get', 'hit');
      return Promise.resolve(local.value);
    }
    const { flight, joined } = this.store.flights.run<T>(k, async (self) => {
      const read = await this.read<T>(namespace, k);
      if (read.hit) return read.entry.value;
      const value = await loader();
      if (self.invalidated) {
        this.count(namespace, 'source', 'set', 'skipped');
      } else if (value !== undefined && (value !== null || (options?.cacheNull ?? this.options.cacheNull))) {
        await this.write(namespace, k, value, options, read.token);
      }
      return value;
    });
    if (joined) this.count(namespace, 'source', 'load', 'wait');
    return flight.promise;
  }

  /** Atomically replaces a cached value with `fn(current)` (e.g. a balance after a charge); no-op on a miss. */
  async update<T>(namespace: string, key: unknown, fn: (current: T) => T | undefined): Promise<T | undefined> {
    if (!this.options.enabled) return undefined;
    const k = this.key(namespace, key);
    this.store.flights.invalidate([k]);
    const result = await this.guard(namespace, 'update', () => this.store.backend.update<T>(k, fn), undefined);
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
  async getOrSetList<T>(namespace: string, key: unknown, loader: () => Promise<T[]> | T[], options: ListOptions): Promise<T[]> {
    if (!this.options.enabled) return loader();
    const k = this.key(namespace, key);
    const { flight } = this.store.flights.run<T[]>(k, async (self) => {
      const read = await this.readList<T>(namespace, k);
      if (read.hit) return read.items;
      const items = (await loader()).slice(-options.maxLength);
      if (!self.invalidated) {
        const ttlMs = this.listTtl(namespace, options);
        await this.guard(namespace, 'set', () => this.store.backend.writeList(k, items, options.maxLength, ttlMs, { ifToken: read.token }), false);
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
    const ttlMs = this.listTtl(namespace, options);
    return this.guard(namespace, 'set', () => this.store.backend.writeList(k, items, options.maxLength, ttlMs), false);
  }

  /**
   * Atomically appends to a cached list, keeping the last `maxLength` items (one Lua script in Redis). If the list
   * is not cached nothing is written — the next read loads the full list from the source.
   */
  async append<T>(namespace: string, key: unknown, items: T | readonly T[], options: ListOptions): Promise<boolean> {
    if (!this.options.enabled) return false;
    const k = this.key(namespace, key);
    this.store.flights.invalidate([k]);
    const list = Array.isArray(items) ? (items as readonly T[]) : [items as T];
    const ttlMs = this.listTtl(namespace, options);
    return this.guard(namespace, 'append', () => this.store.backend.append(k, list, options.maxLength, ttlMs), false);
  }

  /** Removes every entry tagged with any of `tags`, on every instance; returns how many entries went. */
  async invalidateTags(tags: readonly string[]): Promise<number> {
    if (!this.options.enabled || tags.length === 0) return 0;
    const list = tags.map((tag) => checkTag(tag));
    this.store.flights.invalidatePrefix('');
    const count = await this.guard('_tags', 'invalidate', () => this.store.backend.invalidateTags(this.options.prefix, list), 0);
    void this.store.publish({ tags: [...list] });
    this.emit(CacheEvents.invalidated, { tags: [...list], origin: 'local' } satisfies CacheInvalidatedEvent);
    return count;
  }

  /** Removes every entry of a namespace (SCAN + UNLINK inside the prefix, on every master); returns the count. */
  async clearNamespace(namespace: string): Promise<number> {
    if (!this.options.enabled) return 0;
    const keyPrefix = namespacePrefix(this.options.prefix, checkNamespace(namespace));
    this.store.flights.invalidatePrefix(keyPrefix);
    const count = await this.guard(namespace, 'clear', () => this.store.backend.clearPrefix(keyPrefix), 0);
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
    await this.guard(namespace, 'delete', () => this.store.backend.delete(keys), undefined);
    void this.store.publish({ keys: [...keys] });
    this.emit(CacheEvents.invalidated, { namespace, keys: [...keys], origin: 'local' } satisfies CacheInvalidatedEvent);
  }

  /** Writes by full key, unconditionally (the decorators' write-through path). */
  async put<T>(namespace: string, k: string, value: T, options?: CacheSetOptions<T>): Promise<boolean> {
    if (value === undefined) return false;
    this.store.flights.invalidate([k]);
    const written = await this.write(namespace, k, value, options, undefined);
    if (written) void this.store.publish({ keys: [k] });
    return written;
  }

  /** Hit rates, counters, memory usage and in-flight loads. */
  stats(): CacheStatsSnapshot {
    const namespaces = Object.fromEntries(
      Object.entries(this.statsRecorder.snapshot()).map(([ns, s]) => [ns, { ...s, hitRate: s.hits + s.misses === 0 ? 0 : s.hits / (s.hits + s.misses) }]),
    );
    return {
      enabled: this.options.enabled,
      backend: this.store.backend.kind,
      redisConnected: this.store.redis ? this.store.redisConnected : null,
      memory: this.store.memory?.usage ?? (this.store.backend.kind === 'memory' ? (this.store.backend as unknown as { usage: { entries: number; bytes: number } }).usage : null),
      inFlight: this.store.flights.size,
      namespaces,
    };
  }

  async onModuleDestroy(): Promise<void> {
    await this.store.close();
  }

  /** The resolved settings of a namespace (its own, or the defaults). */
  namespaceOptions(namespace: string): ResolvedNamespace {
    return this.options.namespaces.get(namespace) ?? this.options.defaultNamespace;
  }

  private async read<T>(namespace: string, k: string): Promise<ReadResult<T>> {
    const started = performance.now();
    const result = await this.guard<ReadResult<T> | Miss>(namespace, 'get', () => this.store.backend.read<T>(k), { hit: false, token: null, failed: true } as Miss);
    const ms = performance.now() - started;
    if (result.hit) this.count(namespace, result.tier ?? this.tierOf(), 'get', 'hit', ms);
    else if (result.corrupt) this.count(namespace, this.tierOf(), 'get', 'corrupt', ms);
    if (!result.hit) this.count(namespace, this.tierOf(), 'get', 'miss', ms);
    return result;
  }

  private async readList<T>(namespace: string, k: string): Promise<{ hit: true; items: T[] } | Miss> {
    const result = await this.guard<{ hit: true; items: T[] } | Miss>(namespace, 'get', () => this.store.backend.readList<T>(k), { hit: false, token: null });
    this.count(namespace, this.tierOf(), 'get', result.hit ? 'hit' : result.corrupt ? 'corrupt' : 'miss');
    return result;
  }

  private async write<T>(namespace: string, k: string, value: T, options: CacheSetOptions<T> | undefined, token: string | null | undefined): Promise<boolean> {
    const ns = this.namespaceOptions(namespace);
    const ttlMs = this.ttl(ns, options?.ttl as Ttl | undefined, value);
    const now = Date.now();
    const entry: CacheEntry<T> = { value, createdAt: now, expiresAt: now + ttlMs };
    let encoded: Buffer;
    try {
      encoded = encodeEntry(entry);
    } catch (err) {
      this.logger.warn(`encode:${namespace}`, ErrorMessages.unserializableValue((err as Error).message));
      this.count(namespace, this.tierOf(), 'set', 'refused');
      return false;
    }
    if (encoded.length > ns.maxValueBytes) {
      this.logger.warn(`size:${namespace}`, ErrorMessages.valueTooLarge(namespace, encoded.length, ns.maxValueBytes));
      this.count(namespace, this.tierOf(), 'set', 'refused');
      return false;
    }
    const tags = typeof options?.tags === 'function' ? options.tags(value) : options?.tags;
    const writeOptions = { ...(tags?.length ? { tags: tags.map(checkTag) } : {}), ...(token !== undefined ? { ifToken: token } : {}) };
    const written = await this.guard(namespace, 'set', () => this.store.backend.write(k, entry, encoded, ttlMs, writeOptions), false);
    this.count(namespace, this.tierOf(), 'set', written ? 'ok' : 'skipped');
    return written;
  }

  /** Runs one backend operation failing open: errors and timeouts become `fallback`, logged and counted. */
  private async guard<R>(namespace: string, operation: CacheOperation, op: () => Promise<R>, fallback: R): Promise<R> {
    try {
      return await op();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const timeout = /timed out/i.test(message);
      this.count(namespace, this.tierOf(), operation, timeout ? 'timeout' : 'error');
      this.logger.warn(`${operation}:${timeout ? 'timeout' : 'error'}`, `cache ${operation} failed in namespace "${namespace}" (${message}); answered from the source.`);
      return fallback;
    }
  }

  private ttl(ns: ResolvedNamespace, override: Ttl | undefined, value: unknown): number {
    const base: ResolvedTtl = override === undefined ? ns.ttl : typeof override === 'function' ? (v: unknown) => parseDuration(override(v), 'ttl()') : parseDuration(override, 'ttl');
    const ms = typeof base === 'function' ? base(value) : base;
    const safe = Math.max(1, ms);
    return ns.jitter > 0 ? Math.round(safe * (1 + Math.random() * ns.jitter)) : safe;
  }

  private listTtl(namespace: string, options: ListOptions): number {
    if (!Number.isInteger(options.maxLength) || options.maxLength < 1) {
      throw new CacheError('E_MISUSE', ErrorMessages.misuse('list operation', `maxLength ${options.maxLength} is not a positive integer`, 'pass { maxLength: N } with N ≥ 1'));
    }
    return this.ttl(this.namespaceOptions(namespace), options.ttl, undefined);
  }

  private tierOf(): CacheTier {
    return this.store.backend.kind === 'memory' ? 'memory' : 'redis';
  }

  private count(namespace: string, tier: CacheTier, operation: CacheOperation, outcome: CacheOutcome, ms?: number): void {
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

function checkNamespace(namespace: string): string {
  if (typeof namespace !== 'string' || !NAME_PATTERN.test(namespace) || namespace.startsWith('__')) {
    throw new CacheError('E_MISUSE', ErrorMessages.unknownNamespace(String(namespace)));
  }
  return namespace;
}

function checkTag(tag: string): string {
  if (typeof tag !== 'string' || tag.length === 0 || tag.length > 256) {
    throw new CacheError('E_MISUSE', ErrorMessages.misuse('tags', `tag ${JSON.stringify(tag)} is not a non-empty string of ≤ 256 characters`, 'build tags like `user:${id}`'));
  }
  return tag;
}
