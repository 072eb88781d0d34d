import { describe, expect, it } from '@jest/globals';
import { CacheError } from '../errors/cache.error.js';
import type { CacheModuleOptions } from './compat-options.interface.js';
import { compatSettings, toTierOptions } from './compat-options.mapper.js';

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
    ['stores', { stores: [{}] }, /"stores".*Fix: remove stores; pass the connection as tiercache: \{ redis:/],
    ['a single store', { stores: {} }, /"stores"/],
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

describe('compatSettings', () => {
  it("defaults to namespace 'keyv', blocking writes and the module TTL", () => {
    expect(compatSettings({ ttl: 1_000 })).toEqual({
      namespace: 'keyv',
      ttlMs: 1_000,
      refreshThresholdMs: undefined,
      nonBlocking: false,
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
