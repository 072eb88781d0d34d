import { CacheError } from '../errors/cache.error.js';
import { ErrorMessages } from '../errors/error-messages.js';
import { describe } from '../options/duration.js';

/** A raw entry as Keyv keeps it: the value and its expiry (epoch ms; absent or null: none). */
export interface KeyvRaw {
  value?: unknown;
  expires?: number | null;
}

/**
 * What the compat door calls on one of the `stores`: a Keyv instance (or a Cacheable), or a Keyv storage adapter
 * wrapped in a Keyv. Only get, set and delete are required; the batch calls are used when the store has them.
 */
export interface KeyvLike {
  get(key: string, options?: { raw: true }): Promise<unknown>;
  getRaw?(key: string): Promise<KeyvRaw | undefined>;
  getMany?(keys: string[]): Promise<unknown[]>;
  set(key: string, value: unknown, ttl?: number): Promise<unknown>;
  setMany?(entries: { key: string; value: unknown; ttl?: number }[]): Promise<unknown>;
  delete(key: string): Promise<unknown>;
  deleteMany?(keys: string[]): Promise<unknown>;
  clear?(): Promise<unknown>;
  disconnect?(): Promise<unknown>;
  namespace?: string;
  /** A Keyv's storage adapter. */
  store?: unknown;
  /** A Cacheable's second layer. */
  secondary?: unknown;
}

/**
 * How a store is used: as it is (Keyv, Cacheable), or wrapped in a Keyv (a storage adapter such as KeyvRedis).
 * @example if (shapeOf(store) === 'adapter') store = new Keyv({ store, namespace });
 */
export type StoreShape = 'keyv' | 'cacheable' | 'adapter';

/** The part of the keyv package the compat door uses: its class. */
interface KeyvModule {
  Keyv: new (options: { store: unknown; namespace?: string }) => KeyvLike;
}

const EXPECTED =
  'a Keyv instance (new Keyv({ store })), a Keyv storage adapter (e.g. new KeyvRedis(url)) or a Cacheable, or a list of them';

/**
 * What kind of store `store` is, by shape (the app's keyv may be another copy than any tiercache could import):
 * undefined when it is not a store at all (no get, set and delete functions).
 * @example shapeOf(new Keyv()) // 'keyv'; shapeOf(new KeyvRedis(url)) // 'adapter'
 */
export function shapeOf(store: unknown): StoreShape | undefined {
  if (typeof store !== 'object' || store === null) return undefined;
  const s = store as Record<string, unknown>;
  if (typeof s.get !== 'function' || typeof s.set !== 'function' || typeof s.delete !== 'function') return undefined;
  if ('primary' in s && 'secondary' in s && 'nonBlocking' in s) return 'cacheable';
  if ('opts' in s && 'hooks' in s && 'stats' in s) return 'keyv';
  return 'adapter';
}

/**
 * The `stores` option as a list (a single store is a list of one), checked at boot: undefined when absent or empty
 * (then tiercache's own tiers serve `CACHE_MANAGER`); anything that is not a store stops the boot saying what is
 * expected.
 * @example storesOf([new Keyv(), new KeyvRedis(url)]) // the two stores
 */
export function storesOf(stores: unknown): readonly object[] | undefined {
  if (stores === undefined || stores === null) return undefined;
  const list: unknown[] = Array.isArray(stores) ? stores : [stores];
  if (list.length === 0) return undefined;
  list.forEach((store, i) => {
    if (shapeOf(store) === undefined)
      throw new CacheError(
        'E_INVALID_OPTION',
        ErrorMessages.compatUnsupported(
          'stores',
          `${Array.isArray(stores) ? `item ${i} ` : ''}= ${describe(store)} is not a store (it has no get, set and delete functions)`,
          `pass ${EXPECTED}; or remove stores and pass tiercache: { redis: 'redis://host:6379' } for tiercache's own tiers`,
        ),
      );
  });
  return list as object[];
}

/**
 * The stores `CACHE_MANAGER` talks to, as @nestjs/cache-manager builds them: a Keyv or a Cacheable as it is (the
 * app's own instance, so what the cache writes is readable through it); a storage adapter wrapped in a Keyv with the
 * module `namespace`. A Keyv still on Keyv's default namespace takes the module `namespace` when one is set.
 * @example const [memory, redis] = await keyvStoresOf([new Keyv(), new KeyvRedis(url)], 'keyv');
 */
export async function keyvStoresOf(stores: readonly object[], namespace: string): Promise<KeyvLike[]> {
  let keyv: KeyvModule | undefined;
  const result: KeyvLike[] = [];
  for (const store of stores) {
    const shape = shapeOf(store);
    const s = store as KeyvLike;
    if (shape === 'adapter') {
      keyv ??= await loadKeyv();
      result.push(new keyv.Keyv({ store, namespace }));
      continue;
    }
    if (shape === 'keyv' && namespace !== 'keyv' && (s.namespace === undefined || s.namespace === 'keyv'))
      s.namespace = namespace;
    result.push(s);
  }
  return result;
}

async function loadKeyv(): Promise<KeyvModule> {
  try {
    const loaded = (await import('keyv')) as unknown as Partial<KeyvModule> & { default?: unknown };
    const Keyv = loaded.Keyv ?? loaded.default;
    if (typeof Keyv === 'function') return { Keyv: Keyv as KeyvModule['Keyv'] };
    throw new TypeError('the keyv package exports no Keyv class');
  } catch (err) {
    throw new CacheError(
      'E_INVALID_OPTION',
      ErrorMessages.compatUnsupported(
        'stores',
        'holds a Keyv storage adapter, which must be wrapped in a Keyv, and the keyv package could not be loaded',
        'install keyv (npm i keyv, the package the adapter is built for), or pass new Keyv({ store: adapter }) yourself',
      ),
      { cause: err },
    );
  }
}

/**
 * Whether a store keeps its values in this process (counted as the memory tier) or elsewhere (counted as the
 * remote tier, 'redis'): a Map or a *Memory store, seen through a Keyv; a Cacheable by whether it has a second layer.
 * @example inProcess(new Keyv({ store: new CacheableMemory() })) // true
 */
export function inProcess(store: KeyvLike): boolean {
  if (shapeOf(store) === 'cacheable') return store.secondary === undefined || store.secondary === null;
  const inner = shapeOf(store) === 'keyv' ? store.store : store;
  if (inner instanceof Map) return true;
  const name = (inner as { constructor?: { name?: unknown } } | undefined)?.constructor?.name;
  return typeof name === 'string' && /memory|lru|map/i.test(name);
}
