import { describe, expect, it } from '@jest/globals';
import { CacheError } from '../errors/cache.error.js';
import type { CacheModuleOptions } from './compat-options.interface.js';
import { compatSettings, toTierOptions } from './compat-options.mapper.js';
import { shapeOf, storesOf } from './keyv-store.js';

describe('toTierOptions', () => {
  it('maps ttl, max and refreshThreshold onto tiercache options, keeping tiercache ones', () => {
    expect(toTierOptions({ ttl: 5_000, max: 100, refreshThreshold: 1_000, tiercache: { prefix: 'app' } })).toEqual({
      prefix: 'app',
      defaultTtl: 5_000,
      memory: { maxEntries: 100 },
      eagerRefresh: 0.8,
    });
    // No ttl: @nestjs/cache-manager's default (5 s), unless tiercache.defaultTtl says otherwise.
    expect(toTierOptions(undefined)).toEqual({ defaultTtl: 5_000 });
    expect(toTierOptions({ tiercache: { defaultTtl: '1h' } })).toEqual({ defaultTtl: '1h' });
    expect(
      toTierOptions({ isGlobal: true, nonBlocking: true, refreshAllStores: true, cacheId: 'x', stores: [] }),
    ).toEqual({ defaultTtl: 5_000 });
    expect(toTierOptions({ max: 10, tiercache: { memory: { maxBytes: 1_000 } } }).memory).toEqual({
      maxBytes: 1_000,
      maxEntries: 10,
    });
  });

  it.each<[string, unknown, RegExp]>([
    [
      'stores holding a non-store',
      { stores: [{ get: () => undefined }] },
      /"stores" item 0 = an object is not a store/,
    ],
    [
      'a single non-store',
      { stores: 'redis://h' },
      /"stores" = "redis:\/\/h" is not a store.*Fix: pass a Keyv instance/,
    ],
    ['stores: a list with a number', { stores: [new Map(), 42] }, /"stores" item 1 = 42.*tiercache: \{ redis:/],
    ['store (cache-manager 5)', { store: 'redis' }, /"store" configures a cache-manager store.*tiercache: \{ redis:/],
    ['host', { host: 'localhost' }, /"host".*tiercache: \{ redis:/],
    ['unknown', { ttlSeconds: 5 }, /"ttlSeconds" is not supported.*tiercache: \{ \.\.\. \}/],
    ['ttl 0', { ttl: 0 }, /"ttl" = 0 is not a TTL/],
    ['ttl as a string', { ttl: '5m' }, /"ttl" = "5m"/],
    ['max 0', { max: 0 }, /"max" = 0/],
    ['ttl + defaultTtl', { ttl: 1, tiercache: { defaultTtl: 1 } }, /"ttl" and "tiercache.defaultTtl"/],
    ['max + memory.maxEntries', { max: 1, tiercache: { memory: { maxEntries: 2 } } }, /"max" and "tiercache.memory"/],
    ['max + memory false', { max: 1, tiercache: { memory: false } }, /"max" and "tiercache.memory"/],
    ['refreshThreshold ≥ ttl', { ttl: 1_000, refreshThreshold: 1_000 }, /refreshThreshold 1000.*eagerRefresh/],
    ['nonBlocking not boolean', { nonBlocking: 'yes' }, /"nonBlocking"/],
    ['not an object', 42, /options object/],
  ])('%s: stops the boot naming the option and the fix', (_name, options, message) => {
    const attempt = (): unknown => toTierOptions(options as CacheModuleOptions);
    expect(attempt).toThrow(CacheError);
    expect(attempt).toThrow(message);
  });
});

describe('stores', () => {
  const keyv = {
    opts: {},
    hooks: {},
    stats: {},
    get: async () => undefined,
    set: async () => true,
    delete: async () => true,
  };

  it('accepts Keyv instances, storage adapters (a Map too) and a Cacheable, as a list or alone', () => {
    const cacheable = {
      primary: keyv,
      secondary: undefined,
      nonBlocking: true,
      get: keyv.get,
      set: keyv.set,
      delete: keyv.delete,
    };
    expect(shapeOf(keyv)).toBe('keyv');
    expect(shapeOf(new Map())).toBe('adapter');
    expect(shapeOf(cacheable)).toBe('cacheable');
    expect(storesOf([keyv, new Map()])).toEqual([keyv, new Map()]);
    expect(storesOf(keyv)).toEqual([keyv]);
    // No stores (absent or empty): tiercache's own tiers serve CACHE_MANAGER, as cache-manager's default store.
    expect(storesOf(undefined)).toBeUndefined();
    expect(storesOf([])).toBeUndefined();
    expect(toTierOptions({ stores: [keyv] })).toEqual({ defaultTtl: 5_000 });
  });
});

describe('compatSettings', () => {
  it("defaults to namespace 'keyv', blocking writes and the module TTL", () => {
    expect(compatSettings({ ttl: 1_000 })).toEqual({
      namespace: 'keyv',
      ttlMs: 1_000,
      refreshThresholdMs: undefined,
      nonBlocking: false,
      refreshAllStores: false,
      cacheId: undefined,
    });
    expect(compatSettings({ namespace: 'app', nonBlocking: true, cacheId: 'c' })).toMatchObject({
      namespace: 'app',
      nonBlocking: true,
      cacheId: 'c',
    });
  });

  it('refuses a namespace outside the key grammar', () => {
    expect(() => compatSettings({ namespace: 'a:b' })).toThrow(/namespace "a:b"/);
  });
});
