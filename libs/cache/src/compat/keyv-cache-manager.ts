import { randomUUID } from 'node:crypto';
import type { OnModuleDestroy } from '@nestjs/common';
import type { CacheEngine } from '../engine/cache-engine.js';
import { LogMessages } from '../errors/error-messages.js';
import { SingleFlight } from '../resilience/single-flight.js';
import type { Flight } from '../resilience/single-flight.js';
import { arrayOf, itemOf, keyOf, positive, wrapOptionsOf } from './call-arguments.js';
import type { TtlArg } from './call-arguments.js';
import type { Cache, CacheEvents, StoredDataRaw, WrapOptions, WrapOptionsRaw } from './cache-manager.interface.js';
import { CompatEvents } from './compat-events.js';
import { keyvStoresOf } from './keyv-store.js';
import type { KeyvRaw } from './keyv-store.js';
import { GuardedStore, deadline } from './keyv-store.guard.js';
import type { StoreGuardSettings } from './keyv-store.guard.js';
import type { CompatCacheSettings } from './tier-cache-manager.js';

/**
 * cache-manager 7's `Cache` over the app's own `stores` (Keyv instances, a Cacheable, or storage adapters wrapped in
 * a Keyv), with cache-manager's semantics: reads go through the stores in order and answer the first hit, writes
 * and deletes reach every store (`nonBlocking`: without waiting, and reads race the stores), `wrap` loads once per
 * key, backfills the stores in front of the one that answered and refreshes in the background below
 * `refreshThreshold`. Under tiercache's failure policy: a store that throws or hangs ends by `commandTimeout`, is
 * counted in `CacheService.stats()` and the metrics, and the call answers as a miss (from the loader, for `wrap`).
 * @example CacheModule.register({ stores: [new Keyv({ store: new CacheableMemory() }), new KeyvRedis(url)] })
 */
export class KeyvCacheManager implements Cache, OnModuleDestroy {
  readonly #stores: readonly GuardedStore[];
  readonly #settings: CompatCacheSettings;
  readonly #guard: StoreGuardSettings;
  readonly #defaultTtl: (value: unknown) => number;
  readonly #events = new CompatEvents();
  readonly #loads = new SingleFlight();
  readonly #refreshes = new SingleFlight();
  readonly #id: string;

  private constructor(stores: readonly GuardedStore[], settings: CompatCacheSettings, engine: CacheEngine) {
    this.#stores = stores;
    this.#settings = settings;
    this.#guard = settingsOf(engine, settings.namespace);
    const ttl = settings.ttlMs ?? engine.policies.settings(settings.namespace).ttl;
    this.#defaultTtl = typeof ttl === 'function' ? ttl : () => ttl;
    this.#id = settings.cacheId ?? randomUUID();
  }

  /** Builds the cache over `stores` (checked by the options mapper), wrapping storage adapters in a Keyv. */
  static async create(
    stores: readonly object[],
    settings: CompatCacheSettings,
    engine: CacheEngine,
  ): Promise<KeyvCacheManager> {
    const guard = settingsOf(engine, settings.namespace);
    const keyv = await keyvStoresOf(stores, settings.namespace);
    return new KeyvCacheManager(
      keyv.map((store, i) => new GuardedStore(store, `stores[${i}]`, guard)),
      settings,
      engine,
    );
  }

  async get<T>(key: string): Promise<T | undefined> {
    const k = keyOf('get', key);
    const value = (await this.#read(k, (s, until) => s.get(k, until))) as T | undefined;
    this.#events.emit('get', { key, value });
    return value;
  }

  async mget<T>(keys: string[]): Promise<(T | undefined)[]> {
    const list = arrayOf('mget', keys).map((k) => keyOf('mget', k));
    const until = deadline(this.#guard.timeoutMs);
    let values: unknown[] = list.map(() => undefined);
    if (this.#settings.nonBlocking) {
      values = (await Promise.race(this.#stores.map((s) => s.getMany(list, until)))) ?? values;
    } else {
      for (const store of this.#stores) {
        const missing = list.flatMap((k, i) => (values[i] === undefined ? [{ k, i }] : []));
        if (missing.length === 0) break;
        const found = await store.getMany(
          missing.map((m) => m.k),
          until,
        );
        missing.forEach((m, j) => (values[m.i] = found?.[j]));
      }
    }
    for (const v of values) this.#countRead(v, 'get');
    this.#events.emit('mget', { keys, value: values });
    return values as (T | undefined)[];
  }

  async ttl(key: string): Promise<number | undefined> {
    const k = keyOf('ttl', key);
    const raw = (await this.#read(k, (s, until) => s.getRaw(k, until), false)) as KeyvRaw | undefined;
    return typeof raw?.expires === 'number' ? raw.expires : undefined;
  }

  async set<T>(key: string, value: T, ttl?: number): Promise<T> {
    const k = keyOf('set', key);
    const ms = this.#ttl(ttl, 'set', value);
    this.#loads.invalidate([k]);
    await this.#settle(this.#write(this.#stores, k, value, ms));
    this.#events.emit('set', { key, value });
    return value;
  }

  async mset<T>(list: { key: string; value: T; ttl?: number }[]): Promise<{ key: string; value: T; ttl?: number }[]> {
    const items = arrayOf('mset', list).map((item) => {
      const { key, value, ttl } = itemOf(item);
      return { key: keyOf('mset', key), value, ttl: this.#ttl(ttl, 'mset', value) };
    });
    this.#loads.invalidate(items.map((i) => i.key));
    const until = deadline(this.#guard.timeoutMs);
    const writes = Promise.all(this.#stores.map((s) => s.setMany(items, until))).then((ok) => {
      if (ok.some(Boolean)) items.forEach(() => this.#count('set', 'ok'));
    });
    await this.#settle(writes);
    this.#events.emit('mset', { list });
    return list;
  }

  async del(key: string): Promise<boolean> {
    const k = keyOf('del', key);
    await this.#settle(this.#delete([k]));
    this.#events.emit('del', { key });
    return true;
  }

  async mdel(keys: string[]): Promise<boolean> {
    const list = arrayOf('mdel', keys).map((k) => keyOf('mdel', k));
    await this.#settle(this.#delete(list));
    for (const key of keys) this.#events.emit('del', { key });
    return true;
  }

  async clear(): Promise<boolean> {
    this.#loads.invalidatePrefix('');
    const until = deadline(this.#guard.timeoutMs);
    const clears = Promise.all(this.#stores.map((s) => s.clear(until))).then((ok) => {
      if (ok.some(Boolean)) this.#count('clear', 'ok');
    });
    await this.#settle(clears);
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
    const threshold = options.refreshThreshold ?? this.#settings.refreshThresholdMs;
    if (threshold !== undefined) positive(threshold, 'wrap refreshThreshold');
    // Concurrent callers of a key share one read and at most one load (raw or not: each takes its own form).
    const { flight, joined } = this.#loads.run<StoredDataRaw<T>>(k, (f) => this.#wrapOnce(k, fnc, options, f));
    if (joined) this.#count('load', 'wait', undefined, 'source');
    const raw = await flight.promise;
    return options.raw === true ? raw : (raw.value as T);
  }

  on<E extends keyof CacheEvents>(event: E, listener: CacheEvents[E]): this {
    this.#events.on(event, listener);
    return this;
  }

  off<E extends keyof CacheEvents>(event: E, listener: CacheEvents[E]): this {
    this.#events.off(event, listener);
    return this;
  }

  /** Disconnects every store, as cache-manager's (each bounded by `commandTimeout`). */
  async disconnect(): Promise<undefined> {
    const until = deadline(this.#guard.timeoutMs);
    await Promise.all(this.#stores.map((s) => s.disconnect(until)));
    return undefined;
  }

  cacheId(): string {
    return this.#id;
  }

  /** Nest's shutdown hook: the stores are disconnected with the app, as @nestjs/cache-manager does. */
  async onModuleDestroy(): Promise<void> {
    await this.disconnect();
  }

  async #wrapOnce<T>(
    k: string,
    fnc: () => T | Promise<T>,
    options: WrapOptions<T>,
    flight: Flight<StoredDataRaw<T>>,
  ): Promise<StoredDataRaw<T>> {
    const until = deadline(this.#guard.timeoutMs);
    for (let i = 0; i < this.#stores.length; i++) {
      const store = this.#stores[i] as GuardedStore;
      const raw = await store.getRaw(k, until);
      if (raw === undefined || raw.value === undefined) continue;
      this.#count('get', 'hit', undefined, store.tier);
      const value = raw.value as T;
      const expires = typeof raw.expires === 'number' ? raw.expires : undefined;
      const left = expires === undefined ? undefined : Math.max(0, expires - Date.now());
      const threshold = options.refreshThreshold ?? this.#settings.refreshThresholdMs;
      if (left !== undefined && threshold !== undefined && left < threshold) {
        this.#refresh(k, fnc, options, this.#settings.refreshAllStores ? this.#stores : this.#stores.slice(0, i + 1));
      } else if (i > 0) {
        // The stores in front get the value back, never for longer than the entry that answered has left.
        const ttl = Math.min(this.#resolveTtl(options, value), left ?? Number.POSITIVE_INFINITY);
        if (ttl > 0) await this.#settle(this.#write(this.#stores.slice(0, i), k, value, ttl));
      }
      return expires === undefined ? { value } : { value, expires };
    }
    this.#count('get', 'miss');
    // The loader's own error propagates untouched, and nothing is cached.
    const value = await fnc();
    const ttl = this.#resolveTtl(options, value);
    // A set, del or clear of the key while the loader ran wins: this (older) value is returned, not cached; and
    // undefined is never stored.
    if (!flight.invalidated && value !== undefined) await this.#settle(this.#write(this.#stores, k, value, ttl));
    return { value, expires: Date.now() + ttl };
  }

  #refresh<T>(k: string, fnc: () => T | Promise<T>, options: WrapOptions<T>, stores: readonly GuardedStore[]): void {
    const { flight } = this.#refreshes.run<void>(k, async () => {
      const value = await fnc();
      await this.#write(stores, k, value, this.#resolveTtl(options, value));
      this.#count('load', 'refresh', undefined, 'source');
      this.#events.emit('refresh', { key: k, value });
    });
    flight.promise.catch((err: unknown) => {
      this.#guard.logger.warn(
        `refresh:${this.#settings.namespace}`,
        LogMessages.refreshFailed(this.#settings.namespace, err),
      );
      this.#events.emit('refresh', { key: k, error: err });
    });
  }

  /**
   * Reads the stores in order and answers the first hit; `nonBlocking`: the first store to answer wins, as
   * cache-manager's `Promise.race` (a failed store answers as a miss).
   */
  async #read(
    k: string,
    read: (store: GuardedStore, until: number) => Promise<unknown>,
    count = true,
  ): Promise<unknown> {
    const until = deadline(this.#guard.timeoutMs);
    if (this.#settings.nonBlocking) {
      const value = await Promise.race(this.#stores.map((s) => read(s, until).then((v) => ({ v, s }))));
      if (count) this.#countRead(value.v, 'get', value.s);
      return value.v;
    }
    for (const store of this.#stores) {
      const value = await read(store, until);
      if (value === undefined) continue;
      if (count) this.#countRead(value, 'get', store);
      return value;
    }
    if (count) this.#countRead(undefined, 'get');
    return undefined;
  }

  /** Writes every store in `stores` within one deadline; counts one set when any store took it. */
  async #write(stores: readonly GuardedStore[], k: string, value: unknown, ttlMs: number): Promise<void> {
    const until = deadline(this.#guard.timeoutMs);
    const ok = await Promise.all(stores.map((s) => s.set(k, value, ttlMs, until)));
    if (ok.some(Boolean)) this.#count('set', 'ok');
  }

  async #delete(keys: string[]): Promise<void> {
    this.#loads.invalidate(keys);
    const until = deadline(this.#guard.timeoutMs);
    const ok = await Promise.all(this.#stores.map((s) => s.delete(keys, until)));
    if (ok.some(Boolean)) this.#count('delete', 'ok');
  }

  /** Waits for the stores, or (`nonBlocking`) lets them finish in the background; guarded calls never reject. */
  async #settle(work: Promise<void>): Promise<void> {
    if (this.#settings.nonBlocking) {
      work.catch((err: unknown) =>
        this.#guard.logger.warn('non-blocking', LogMessages.compatNonBlockingFailed('write', err)),
      );
      return;
    }
    await work;
  }

  #ttl(ttl: number | undefined, where: string, value: unknown): number {
    return ttl === undefined || ttl === 0 ? this.#defaultTtl(value) : positive(ttl, `${where} ttl`);
  }

  #resolveTtl<T>(options: WrapOptions<T>, value: T): number {
    const { ttl } = options;
    if (ttl === undefined) return this.#defaultTtl(value);
    return typeof ttl === 'function' ? positive(ttl(value), 'wrap ttl()') : positive(ttl, 'wrap ttl');
  }

  #countRead(value: unknown, operation: 'get', store?: GuardedStore): void {
    const last = this.#stores[this.#stores.length - 1];
    if (value === undefined) this.#count(operation, 'miss', undefined, store?.tier ?? last?.tier);
    else this.#count(operation, 'hit', undefined, store?.tier ?? this.#stores[0]?.tier);
  }

  #count(
    operation: 'get' | 'set' | 'delete' | 'clear' | 'load',
    outcome: 'hit' | 'miss' | 'ok' | 'wait' | 'refresh',
    ms?: number,
    tier: 'memory' | 'redis' | 'source' = this.#stores[0]?.tier ?? 'memory',
  ): void {
    this.#guard.telemetry.count(this.#settings.namespace, tier, operation, outcome, ms);
  }
}

function settingsOf(engine: CacheEngine, namespace: string): StoreGuardSettings {
  return {
    namespace,
    timeoutMs: engine.options.commandTimeoutMs,
    breaker: engine.options.breaker,
    enabled: engine.options.enabled,
    telemetry: engine.telemetry,
    logger: engine.logger,
  };
}
