/** Per-call options of `wrap`, as cache-manager 7's. */
export interface WrapOptions<T> {
  /** TTL in ms, or a function of the loaded value. @default the module `ttl` */
  ttl?: number | ((value: T) => number);
  /** Refresh in the background when less than this many ms are left (below the TTL). @default the module's */
  refreshThreshold?: number;
}

/** `wrap` options asking for the raw entry (`{ value, expires }`). */
export interface WrapOptionsRaw<T> extends WrapOptions<T> {
  raw: true;
}

/** What `wrap(..., { raw: true })` returns: the value and its expiry (epoch ms). */
export interface StoredDataRaw<T> {
  value?: T;
  expires?: number;
}

/** Payloads of the events a cache emits (`cache.on('set', ...)`), as cache-manager 7's. */
export interface CacheEvents {
  get: <T>(data: { key: string; value?: T; error?: unknown }) => void;
  mget: <T>(data: { keys: string[]; value?: T[]; error?: unknown }) => void;
  set: <T>(data: { key: string; value: T; error?: unknown }) => void;
  mset: <T>(data: { list: { key: string; value: T; ttl?: number }[]; error?: unknown }) => void;
  del: (data: { key: string; error?: unknown }) => void;
  clear: (error?: unknown) => void;
  refresh: <T>(data: { key: string; value: T; error?: unknown }) => void;
}

/**
 * cache-manager 7's `Cache` API. Served by tiercache's own tiers (Redis + memory tier, fail-open), or, with the
 * `stores` option, by the app's Keyv stores with cache-manager's semantics under tiercache's failure policy (each
 * store call bounded by `commandTimeout`, counted, a failing store answered as a miss). Keys are strings; TTLs are
 * milliseconds. Not provided: the `cache.stores` property (keep your own references to the stores you passed; for
 * counters use `CacheService.stats()`).
 * @example const user = await cache.wrap(`user:${id}`, () => db.user(id), 60_000);
 */
export interface Cache {
  /** The value, or undefined on a miss. */
  get<T>(key: string): Promise<T | undefined>;
  /** Values in the order of `keys` (undefined for misses). */
  mget<T>(keys: string[]): Promise<(T | undefined)[]>;
  /** The expiry of an entry as epoch milliseconds, or undefined on a miss. */
  ttl(key: string): Promise<number | undefined>;
  /** Writes a value (TTL in ms, default the module `ttl`); resolves to the value. */
  set<T>(key: string, value: T, ttl?: number): Promise<T>;
  /** Writes several values; resolves to the list. */
  mset<T>(list: { key: string; value: T; ttl?: number }[]): Promise<{ key: string; value: T; ttl?: number }[]>;
  /** Removes an entry (on every instance). */
  del(key: string): Promise<boolean>;
  /** Removes several entries. */
  mdel(keys: string[]): Promise<boolean>;
  /** Removes every entry of this cache's namespace (SCAN + UNLINK inside the prefix, never FLUSHDB). */
  clear(): Promise<boolean>;
  /** The cached value, or runs `fnc` once per key (concurrent callers share it), caches and returns its result. */
  wrap<T>(
    key: string,
    fnc: () => T | Promise<T>,
    ttl?: number | ((value: T) => number),
    refreshThreshold?: number,
  ): Promise<T>;
  wrap<T>(key: string, fnc: () => T | Promise<T>, options: WrapOptions<T>): Promise<T>;
  wrap<T>(key: string, fnc: () => T | Promise<T>, options: WrapOptionsRaw<T>): Promise<StoredDataRaw<T>>;
  /** Subscribes to an event. */
  on<E extends keyof CacheEvents>(event: E, listener: CacheEvents[E]): this;
  /** Unsubscribes. */
  off<E extends keyof CacheEvents>(event: E, listener: CacheEvents[E]): this;
  /** No-op: the connections belong to the module and close with the app. */
  disconnect(): Promise<undefined>;
  /** The `cacheId` option, or a random id. */
  cacheId(): string;
}
