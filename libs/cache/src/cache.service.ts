import { Inject, Injectable } from '@nestjs/common';
import type { OnModuleDestroy } from '@nestjs/common';
import { CACHE_ENGINE } from './cache.constants.js';
import type { CacheSetOptions, CacheStatsSnapshot, GetOrSetOptions, ListOptions } from './cache-service.types.js';
import type { CacheEngine } from './engine/cache-engine.js';
import { entryTtl } from './engine/entry-writer.js';
import type { ListShape } from './engine/list-entries.js';
import { CacheError } from './errors/cache.error.js';
import { ErrorMessages } from './errors/error-messages.js';
import { checkNamespace, checkTags } from './keys/key-space.js';
import type { KeyPart } from './keys/composite-key.js';
import type { Ttl } from './options/cache-options.interface.js';
import type { LoadOverrides } from './options/load-policy.js';
import { Budget } from './resilience/budget.js';
import { parseDuration } from './options/duration.js';
import type { WarmEntries, WarmOptions, WarmReport } from './warming/warm.types.js';

/**
 * The imperative API, for what decorators can't express. Every key lives under the module prefix: a namespace
 * (`[A-Za-z0-9_.-]`) and a key value named by the one key grammar (`keyOf`: a string as is, any other value typed,
 * so `42` is the entry `@Cached` stores for `getUser(42)`). Fails open: a backend error or timeout is logged
 * (rate-limited), counted, and answered as a miss; invalidations that could not reach Redis are redone when it is back.
 * @example
 * const stats = await cache.getOrSet('stats', composeKey(userId, day), () => this.loadStats(userId, day), { ttl: untilMidnight });
 */
@Injectable()
export class CacheService implements OnModuleDestroy {
  readonly #engine: CacheEngine;

  constructor(@Inject(CACHE_ENGINE) engine: CacheEngine) {
    this.#engine = engine;
  }

  /** Whether caching is on (`enabled` option / CACHE_ENABLED). */
  get enabled(): boolean {
    return this.#engine.options.enabled;
  }

  /** Reads a value; undefined on a miss (null, 0, '' and false are real hits; stale entries are misses). */
  async get<T>(namespace: string, key: unknown): Promise<T | undefined> {
    if (!this.enabled) return undefined;
    const e = this.#engine;
    const k = e.space.entry(namespace, key);
    const local = e.store.peek<T>(k);
    if (local !== undefined && local.expiresAt > Date.now()) {
      e.telemetry.count(namespace, 'memory', 'get', 'hit');
      return local.value;
    }
    const result = await e.reader.read<T>(namespace, k, budget(e));
    return result.hit && result.entry.expiresAt > Date.now() ? result.entry.value : undefined;
  }

  /** Writes a value (write-through). Returns false when it was not cached (too big, unserializable, backend down). */
  async set<T>(namespace: string, key: unknown, value: T, options?: CacheSetOptions<T>): Promise<boolean> {
    if (!this.enabled || value === undefined) return false;
    const e = this.#engine;
    const k = e.space.entry(namespace, key);
    const policy = e.policies.of(namespace, options?.ttl === undefined ? undefined : { ttl: options.ttl as Ttl });
    return e.writer.put(namespace, k, value, policy, tagsOf(options?.tags));
  }

  /** Removes entries (one key, or an array of keys); other instances' memory tiers drop them too. */
  async delete(namespace: string, keys: unknown): Promise<void> {
    if (!this.enabled) return;
    const e = this.#engine;
    const list = (Array.isArray(keys) ? (keys as unknown[]) : [keys]).map((key) => e.space.entry(namespace, key));
    await e.invalidator.keys(namespace, list);
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
    if (typeof loader !== 'function') throw misuse('getOrSet', 'the loader is not a function', '() => load(id)');
    if (!this.enabled) return loader();
    const e = this.#engine;
    let k: string;
    try {
      k = e.space.entry(namespace, key);
    } catch (err) {
      if (!(err instanceof CacheError) || err.code !== 'E_UNSERIALIZABLE_KEY') throw err;
      e.logger.warn(`key:${e.telemetry.label(namespace)}`, err.message);
      e.telemetry.count(namespace, 'source', 'get', 'bypass');
      return loader();
    }
    const policy = e.policies.of(namespace, overridesOf(options));
    return e.readThrough.getOrLoad(namespace, k, loader, policy, tagsOf(options?.tags));
  }

  /** Atomically replaces a cached value with `fn(current)` (e.g. a balance after a charge); no-op on a miss. */
  async update<T>(namespace: string, key: unknown, fn: (current: T) => T | undefined): Promise<T | undefined> {
    if (typeof fn !== 'function') throw misuse('update', 'the updater is not a function', '(current) => next');
    if (!this.enabled) return undefined;
    const e = this.#engine;
    const k = e.space.entry(namespace, key);
    return e.invalidator.replace(namespace, k, (onFail) =>
      e.guard.run(namespace, 'update', () => e.store.backend.update<T>(k, fn), undefined, onFail, k),
    );
  }

  /** Reads a cached list; undefined on a miss (an empty list is a hit). A value entry throws `E_KIND_MISMATCH`. */
  async getList<T>(namespace: string, key: unknown): Promise<T[] | undefined> {
    if (!this.enabled) return undefined;
    return this.#engine.lists.get<T>(namespace, this.#engine.space.entry(namespace, key));
  }

  /** Returns the cached list, or loads, caches (last `maxLength`) and returns it. */
  async getOrSetList<T>(
    namespace: string,
    key: unknown,
    loader: () => Promise<T[]> | T[],
    options: ListOptions,
  ): Promise<T[]> {
    if (typeof loader !== 'function') throw misuse('getOrSetList', 'the loader is not a function', '() => load(id)');
    if (!this.enabled) return loader();
    const e = this.#engine;
    return e.lists.getOrLoad(
      namespace,
      e.space.entry(namespace, key),
      loader,
      listShape(this.#engine, namespace, options),
    );
  }

  /** Replaces a whole cached list with its last `maxLength` items. */
  async setList<T>(namespace: string, key: unknown, items: readonly T[], options: ListOptions): Promise<boolean> {
    if (!Array.isArray(items)) throw misuse('setList', 'items is not an array', 'pass the whole list');
    if (!this.enabled) return false;
    const e = this.#engine;
    return e.lists.set(namespace, e.space.entry(namespace, key), items, listShape(this.#engine, namespace, options));
  }

  /**
   * Atomically appends to a cached list, keeping the last `maxLength` items (one Lua script in Redis). If the list
   * is not cached nothing is written — the next read loads the full list from the source.
   */
  async append<T>(namespace: string, key: unknown, items: T | readonly T[], options: ListOptions): Promise<boolean> {
    if (!this.enabled) return false;
    const e = this.#engine;
    const list = Array.isArray(items) ? (items as readonly T[]) : [items as T];
    return e.lists.append(namespace, e.space.entry(namespace, key), list, listShape(this.#engine, namespace, options));
  }

  /** Removes every entry tagged with any of `tags`, on every instance; returns how many entries went. */
  async invalidateTags(tags: readonly string[]): Promise<number> {
    const list = checkTags(tags);
    if (!this.enabled) return 0;
    return this.#engine.invalidator.tags(list);
  }

  /** Removes every entry of a namespace (SCAN + UNLINK inside the prefix, on every master); returns the count. */
  async clearNamespace(namespace: string): Promise<number> {
    const e = this.#engine;
    const prefix = e.space.namespace(namespace);
    if (!this.enabled) return 0;
    return e.invalidator.prefixes(namespace, [prefix]);
  }

  /**
   * Removes every entry of a namespace whose key was built with `composeKey(...parts, ...more)` — e.g.
   * `invalidatePrefix('stats', [userId])` removes `composeKey(userId, day)` for every day. Parts are escaped (never
   * a glob); the scan stays inside `<prefix>:<namespace>:`, runs SCAN + UNLINK in batches on every master, and
   * returns how many entries went. Prefer tags when the set is known at write time.
   */
  async invalidatePrefix(namespace: string, parts: readonly KeyPart[]): Promise<number> {
    if (!Array.isArray(parts)) throw misuse('invalidatePrefix', 'parts is not an array', "['user', 42]");
    const e = this.#engine;
    const prefixes = parts.length === 0 ? [e.space.namespace(namespace)] : e.space.composed(namespace, parts);
    if (!this.enabled) return 0;
    return e.invalidator.prefixes(namespace, prefixes);
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
    checkNamespace(namespace);
    if (!this.enabled) return { namespace, written: 0, failed: 0, skipped: true, ms: 0 };
    const setOptions = {
      ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
      ...(options.tags ? { tags: options.tags } : {}),
    };
    const write = (key: unknown, value: unknown): Promise<boolean> => this.set(namespace, key, value, setOptions);
    return this.#engine.warmer.warm(namespace, write, source, options);
  }

  /** Runs every `@WarmUp` warmer now (e.g. from an admin endpoint); failures are reported, not thrown. */
  warmAll(): Promise<{ name: string; report?: WarmReport; error?: string }[]> {
    return this.#engine.warmer.warmAll();
  }

  /** Hit rates, counters, memory usage, breaker state and in-flight loads. */
  stats(): CacheStatsSnapshot {
    const e = this.#engine;
    const namespaces = Object.fromEntries(
      Object.entries(e.telemetry.stats.snapshot()).map(([ns, s]) => [
        ns,
        { ...s, hitRate: s.hits + s.misses === 0 ? 0 : s.hits / (s.hits + s.misses) },
      ]),
    );
    return {
      enabled: this.enabled,
      backend: e.store.backend.kind,
      redisConnected: e.store.connection ? e.store.redisConnected : null,
      breaker: e.store.breaker?.state ?? null,
      memory: e.store.memoryUsage,
      evictions: e.store.evictions,
      inFlight: e.flights.size,
      pendingInvalidations: e.replayer.pending,
      pendingInvalidationsDropped: e.replayer.dropped,
      namespaces,
    };
  }

  /** Closes the Redis connections (Nest calls it on shutdown). */
  async onModuleDestroy(): Promise<void> {
    await this.#engine.close();
  }
}

function listShape(e: CacheEngine, namespace: string, options: ListOptions): ListShape {
  const maxLength = (options as ListOptions | undefined)?.maxLength;
  if (typeof maxLength !== 'number' || !Number.isInteger(maxLength) || maxLength < 1)
    throw misuse(
      'list operation',
      `maxLength ${String(maxLength)} is not a positive integer`,
      'pass { maxLength: N } with N ≥ 1',
    );
  const ttlMs =
    options.ttl === undefined
      ? entryTtl(e.policies.of(namespace), undefined)
      : Math.max(1, parseDuration(options.ttl, 'ttl'));
  return { maxLength, ttlMs };
}

function budget(e: CacheEngine): Budget {
  return new Budget(e.options.commandTimeoutMs);
}

function overridesOf(options: GetOrSetOptions<never> | GetOrSetOptions | undefined): LoadOverrides | undefined {
  if (!options) return undefined;
  const { ttl, cacheNull, grace, softTimeout, hardTimeout, eagerRefresh, lease } = options;
  return { ttl, cacheNull, grace, softTimeout, hardTimeout, eagerRefresh, lease } as LoadOverrides;
}

function tagsOf<T>(tags: CacheSetOptions<T>['tags']): CacheSetOptions<T>['tags'] {
  if (tags === undefined || typeof tags === 'function') return tags;
  return checkTags(tags);
}

function misuse(where: string, problem: string, fix: string): CacheError {
  return new CacheError('E_MISUSE', ErrorMessages.misuse(where, problem, fix));
}
