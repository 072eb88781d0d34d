import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { CacheService } from '../cache.service.js';
import type { CacheEngine } from '../engine/cache-engine.js';
import { LogMessages } from '../errors/error-messages.js';
import { Budget } from '../resilience/budget.js';
import { arrayOf, eagerFraction, itemOf, keyOf, positive, wrapOptionsOf } from './call-arguments.js';
import type { TtlArg } from './call-arguments.js';
import type { Cache, CacheEvents, StoredDataRaw, WrapOptions, WrapOptionsRaw } from './cache-manager.interface.js';
import { CompatEvents } from './compat-events.js';

/** What the compat module resolved from @nestjs/cache-manager's options for its `CACHE_MANAGER`. */
export interface CompatCacheSettings {
  /** Namespace of every key. */
  namespace: string;
  /** Module TTL in ms (undefined: the tiercache default TTL). */
  ttlMs: number | undefined;
  /** Module refreshThreshold in ms. */
  refreshThresholdMs: number | undefined;
  nonBlocking: boolean;
  /** With `stores`: a background refresh rewrites every store, not only those up to the one that answered. */
  refreshAllStores: boolean;
  cacheId: string | undefined;
}

/**
 * cache-manager 7's `Cache` over tiercache: every call goes through `CacheService` (memory tier, Redis, fail-open,
 * metrics, bus invalidation) in one namespace. Provided as `CACHE_MANAGER` by the compat `CacheModule`.
 * @example const hits = await cache.wrap('stats', () => loadStats(), 60_000);
 */
export class TierCacheManager implements Cache {
  readonly #service: CacheService;
  readonly #engine: CacheEngine;
  readonly #settings: CompatCacheSettings;
  readonly #events = new CompatEvents();
  readonly #id: string;
  readonly #logger = new Logger('CacheManager');

  constructor(service: CacheService, engine: CacheEngine, settings: CompatCacheSettings) {
    this.#service = service;
    this.#engine = engine;
    this.#settings = settings;
    this.#id = settings.cacheId ?? randomUUID();
  }

  async get<T>(key: string): Promise<T | undefined> {
    const value = await this.#service.get<T>(this.#settings.namespace, keyOf('get', key));
    this.#emit('get', { key, value });
    return value;
  }

  async mget<T>(keys: string[]): Promise<(T | undefined)[]> {
    const ns = this.#settings.namespace;
    const values = await Promise.all(arrayOf('mget', keys).map((k) => this.#service.get<T>(ns, keyOf('mget', k))));
    this.#emit('mget', { keys, value: values });
    return values;
  }

  async ttl(key: string): Promise<number | undefined> {
    const e = this.#engine;
    const ns = this.#settings.namespace;
    if (!e.options.enabled) return undefined;
    const k = e.space.entry(ns, keyOf('ttl', key));
    const local = e.store.peek(k);
    if (local !== undefined && local.expiresAt > Date.now()) return local.expiresAt;
    const result = await e.reader.read(ns, k, new Budget(e.options.commandTimeoutMs));
    return result.hit && result.entry.expiresAt > Date.now() ? result.entry.expiresAt : undefined;
  }

  async set<T>(key: string, value: T, ttl?: number): Promise<T> {
    const k = keyOf('set', key);
    const write = this.#service.set(this.#settings.namespace, k, value, this.#ttlOption(ttl, 'set'));
    await this.#settle('set', write);
    this.#emit('set', { key, value });
    return value;
  }

  async mset<T>(list: { key: string; value: T; ttl?: number }[]): Promise<{ key: string; value: T; ttl?: number }[]> {
    const ns = this.#settings.namespace;
    const writes = arrayOf('mset', list).map((item) => {
      const { key, value, ttl } = itemOf(item);
      return this.#service.set(ns, keyOf('mset', key), value, this.#ttlOption(ttl, 'mset'));
    });
    await this.#settle('mset', Promise.all(writes));
    this.#emit('mset', { list });
    return list;
  }

  async del(key: string): Promise<boolean> {
    await this.#settle('del', this.#service.delete(this.#settings.namespace, keyOf('del', key)));
    this.#emit('del', { key });
    return true;
  }

  async mdel(keys: string[]): Promise<boolean> {
    const list = arrayOf('mdel', keys).map((k) => keyOf('mdel', k));
    await this.#settle('mdel', this.#service.delete(this.#settings.namespace, list));
    for (const key of keys) this.#emit('del', { key });
    return true;
  }

  async clear(): Promise<boolean> {
    await this.#settle('clear', this.#service.clearNamespace(this.#settings.namespace));
    this.#events.emitClear();
    return true;
  }

  wrap<T>(key: string, fnc: () => T | Promise<T>, ttl?: TtlArg<T>, refreshThreshold?: number): Promise<T>;
  wrap<T>(key: string, fnc: () => T | Promise<T>, options: WrapOptions<T>): Promise<T>;
  wrap<T>(key: string, fnc: () => T | Promise<T>, options: WrapOptionsRaw<T>): Promise<StoredDataRaw<T>>;
  async wrap<T>(
    key: string,
    fnc: () => T | Promise<T>,
    ttlOrOptions?: TtlArg<T> | WrapOptions<T> | WrapOptionsRaw<T>,
    refreshThreshold?: number,
  ): Promise<T | StoredDataRaw<T>> {
    const k = keyOf('wrap', key);
    const options = wrapOptionsOf(ttlOrOptions, refreshThreshold);
    const ttl = options.ttl ?? this.#settings.ttlMs;
    const threshold = options.refreshThreshold ?? this.#settings.refreshThresholdMs;
    const eagerRefresh = threshold === undefined ? undefined : eagerFraction(threshold, ttl, 'wrap');
    const value = await this.#service.getOrSet<T>(this.#settings.namespace, k, fnc, {
      ...(ttl !== undefined
        ? { ttl: typeof ttl === 'function' ? (v: T) => positive(ttl(v), 'wrap ttl()') : positive(ttl, 'wrap ttl') }
        : {}),
      ...(eagerRefresh !== undefined ? { eagerRefresh } : {}),
    });
    if (options.raw !== true) return value;
    return { value, expires: await this.ttl(key) };
  }

  on<E extends keyof CacheEvents>(event: E, listener: CacheEvents[E]): this {
    this.#events.on(event, listener);
    return this;
  }

  off<E extends keyof CacheEvents>(event: E, listener: CacheEvents[E]): this {
    this.#events.off(event, listener);
    return this;
  }

  async disconnect(): Promise<undefined> {
    return undefined;
  }

  cacheId(): string {
    return this.#id;
  }

  #ttlOption(ttl: number | undefined, where: string): { ttl?: number } {
    const ms = ttl === undefined || ttl === 0 ? this.#settings.ttlMs : positive(ttl, `${where} ttl`);
    return ms === undefined ? {} : { ttl: ms };
  }

  /** Waits for a write, or (nonBlocking) lets it finish in the background, logging a failure. */
  async #settle(op: string, write: Promise<unknown>): Promise<void> {
    if (!this.#settings.nonBlocking) {
      await write;
      return;
    }
    write.catch((err: unknown) => this.#logger.warn(LogMessages.compatNonBlockingFailed(op, err)));
  }

  #emit(event: keyof CacheEvents, payload: object): void {
    this.#events.emit(event, payload);
  }
}
