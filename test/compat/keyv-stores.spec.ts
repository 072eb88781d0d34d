// nestjs-tiercache/compat with cache-manager's `stores` (Keyv instances, a Cacheable, storage adapters): the shapes
// of @nestjs/cache-manager's own e2e modules (multi-store, Cacheable nonBlocking, custom and default TTL, async
// registration with extra providers, the X-Cache header) over a real redis-server through @keyv/redis, and the
// cache-manager 7 semantics of several stores: first hit wins, writes and deletes reach every store, wrap backfills
// and refreshes, values readable through the app's own Keyv instances.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Inject, Injectable, Module, UseInterceptors } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import KeyvRedis, { createKeyv } from '@keyv/redis';
import { Cacheable, CacheableMemory } from 'cacheable';
import { Keyv } from 'keyv';
import { CacheService } from 'nestjs-tiercache';
import { CACHE_MANAGER, Cache, CacheInterceptor, CacheKey, CacheModule, CacheTTL } from 'nestjs-tiercache/compat';
import type { CacheModuleOptions, CacheOptionsFactory } from 'nestjs-tiercache/compat';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { bootHttp } from './compat-app.js';
import type { CompatApp } from './compat-app.js';

@Injectable()
class Consumer {
  constructor(@Inject(CACHE_MANAGER) readonly cache: Cache) {}
}

/** A Keyv in memory, as the official modules build their first store. */
const memoryKeyv = (): Keyv => new Keyv({ store: new CacheableMemory({ ttl: 60_000, lruSize: 5_000 }) });

describe('nestjs-tiercache/compat stores (Keyv) on a real Redis', () => {
  let redis: RedisServer;
  const open: { close: () => Promise<unknown> }[] = [];
  const context = async (options: CacheModuleOptions): Promise<INestApplicationContext> => {
    @Module({ imports: [CacheModule.register(options)], providers: [Consumer] })
    class AppModule {}
    const app = await NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false });
    open.push(app);
    return app;
  };
  const http = async (metadata: Parameters<typeof bootHttp>[0]): Promise<CompatApp> => {
    const app = await bootHttp(metadata);
    open.push(app);
    return app;
  };
  /** The app's own Redis Keyv, as `createKeyv(url)` builds it (commandTimeout raised: a loaded machine). */
  const redisKeyv = (): Keyv => createKeyv(redis.url);
  const tiercache = { commandTimeout: 5_000 };

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterEach(async () => {
    for (const app of open.splice(0)) await app.close();
    await redis.command('FLUSHALL');
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('multi-store (the official module): empty first, the value after; in both stores, as cache-manager writes it', async () => {
    @Controller()
    class MultiStoreController {
      constructor(@Inject(CACHE_MANAGER) private readonly cacheManager: Cache) {}

      @Get()
      async read(): Promise<unknown> {
        const value = await this.cacheManager.get('multi-store-key');
        if (!value) await this.cacheManager.set('multi-store-key', 'multi-store-value');
        return value;
      }
    }
    const memory = memoryKeyv();
    const app = await http({
      imports: [
        CacheModule.registerAsync({
          useFactory: async () => ({ stores: [memory, new KeyvRedis(redis.url)], tiercache }),
        }),
      ],
      controllers: [MultiStoreController],
    });
    await app.http().get('/').expect(200, '');
    await app.http().get('/').expect(200, 'multi-store-value');
    // The app's own memory Keyv reads it; the adapter was wrapped as @nestjs/cache-manager wraps it (namespace keyv).
    await expect(memory.get('multi-store-key')).resolves.toBe('multi-store-value');
    const asCacheManagerWrites = new Keyv({ store: new KeyvRedis(redis.url), namespace: 'keyv' });
    await expect(asCacheManagerWrites.get('multi-store-key')).resolves.toBe('multi-store-value');
    await asCacheManagerWrites.disconnect();
  });

  it('a read falls through to the second store; wrap backfills the first, never for longer than the entry has left', async () => {
    const memory = memoryKeyv();
    const remote = redisKeyv();
    const { cache } = (await context({ stores: [memory, remote], ttl: 60_000, tiercache })).get(Consumer);
    await remote.set('only-remote', { n: 1 }, 30_000);
    await expect(cache.get('only-remote')).resolves.toEqual({ n: 1 });
    await expect(memory.get('only-remote')).resolves.toBeUndefined(); // get does not backfill (cache-manager 7)
    const before = Date.now();
    await expect(cache.wrap('only-remote', async () => ({ n: 2 }))).resolves.toEqual({ n: 1 });
    const copy = await memory.getRaw('only-remote');
    expect(copy?.value).toEqual({ n: 1 });
    const remoteExpires = (await remote.getRaw('only-remote'))?.expires ?? 0;
    expect(copy?.expires).toBeGreaterThan(before);
    // The remote entry's 30 s left, not the module's 60 s (the slack is the time between the read and the write).
    expect(copy?.expires).toBeLessThan(remoteExpires + 15_000);
    await expect(cache.ttl('only-remote')).resolves.toBe(copy?.expires);
  });

  it('the cache-manager API: writes, deletes and clears reach every store; mget fills misses from the next store', async () => {
    const memory = memoryKeyv();
    const remote = redisKeyv();
    const app = await context({ stores: [memory, remote], ttl: 60_000, tiercache });
    const { cache } = app.get(Consumer);
    const before = Date.now();
    await expect(cache.set('a', { id: 1 })).resolves.toEqual({ id: 1 });
    await expect(Promise.all([memory.get('a'), remote.get('a')])).resolves.toEqual([{ id: 1 }, { id: 1 }]);
    const expires = (await cache.ttl('a')) ?? 0;
    expect(expires).toBeGreaterThanOrEqual(before + 60_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 60_000);
    await cache.set('short', 1, 2_000);
    expect(((await remote.getRaw('short'))?.expires ?? 0) - Date.now()).toBeLessThanOrEqual(2_000);

    await cache.mset([
      { key: 'm1', value: 'one' },
      { key: 'm2', value: 'two', ttl: 10_000 },
    ]);
    await memory.delete('m2');
    await remote.set('m3', 'three');
    await expect(cache.mget(['m1', 'm2', 'm3', 'm4'])).resolves.toEqual(['one', 'two', 'three', undefined]);
    await expect(cache.mdel(['m1', 'm2'])).resolves.toBe(true);
    await expect(remote.getMany(['m1', 'm2'])).resolves.toEqual([undefined, undefined]);
    await expect(cache.del('a')).resolves.toBe(true);
    await expect(Promise.all([memory.get('a'), remote.get('a')])).resolves.toEqual([undefined, undefined]);

    const events: string[] = [];
    cache.on('set', ({ key }) => events.push(`set:${key}`)).on('del', ({ key }) => events.push(`del:${key}`));
    await cache.set('e', 1);
    await cache.del('e');
    expect(events).toEqual(['set:e', 'del:e']);

    await cache.set('c', 1);
    await expect(cache.clear()).resolves.toBe(true);
    await expect(Promise.all([memory.get('c'), remote.get('c'), remote.get('m3')])).resolves.toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    // Counted like every tiercache call: CacheService.stats() under the compat namespace.
    const stats = app.get(CacheService).stats().namespaces['keyv'];
    expect(stats?.sets).toBeGreaterThanOrEqual(4);
    expect(stats?.hits).toBeGreaterThanOrEqual(3);
    expect(stats?.errors).toBe(0);
  });

  it('wrap: one load for concurrent callers, written to every store; a loader error is not cached', async () => {
    const memory = memoryKeyv();
    const remote = redisKeyv();
    const { cache } = (await context({ stores: [memory, remote], tiercache })).get(Consumer);
    let loads = 0;
    const load = async (): Promise<string> => `v${++loads}`;
    await expect(
      Promise.all([cache.wrap('w', load, 60_000), cache.wrap('w', load), cache.wrap('w', load)]),
    ).resolves.toEqual(['v1', 'v1', 'v1']);
    await expect(Promise.all([memory.get('w'), remote.get('w')])).resolves.toEqual(['v1', 'v1']);
    const raw = await cache.wrap('w', load, { raw: true });
    expect(raw.value).toBe('v1');
    expect(raw.expires).toBe((await memory.getRaw('w'))?.expires);
    await cache.wrap('wf', async () => 7, { ttl: (v: number) => v * 1_000 });
    expect(((await remote.getRaw('wf'))?.expires ?? 0) - Date.now()).toBeLessThanOrEqual(7_000);
    await expect(cache.wrap('boom', async () => Promise.reject(new Error('source down')))).rejects.toThrow(
      'source down',
    );
    await expect(remote.get('boom')).resolves.toBeUndefined();
    expect(loads).toBe(1);
  });

  it('refreshThreshold: below it wrap answers the cached value and reloads in the background (refreshAllStores)', async () => {
    for (const refreshAllStores of [false, true]) {
      const memory = memoryKeyv();
      const remote = redisKeyv();
      const options = { stores: [memory, remote], ttl: 60_000, refreshThreshold: 30_000, refreshAllStores, tiercache };
      const { cache } = (await context(options)).get(Consumer);
      const refreshed: unknown[] = [];
      cache.on('refresh', ({ value }) => refreshed.push(value));
      await memory.set('r', 'old', 10_000); // 10 s left: below the 30 s threshold
      await expect(cache.wrap('r', async () => 'new')).resolves.toBe('old');
      await waitFor(() => refreshed.length === 1, { message: 'the background refresh' });
      expect(refreshed).toEqual(['new']);
      await expect(memory.get('r')).resolves.toBe('new');
      // The refresh rewrites the stores up to the one that answered, or every store with refreshAllStores.
      await expect(remote.get('r')).resolves.toBe(refreshAllStores ? 'new' : undefined);
    }
  });

  it('nonBlocking with a Cacheable (the official module): empty first, the value after', async () => {
    @Controller()
    class CacheableController {
      constructor(@Inject(CACHE_MANAGER) private readonly cacheManager: Cache) {}

      @Get()
      async read(): Promise<unknown> {
        const value = await this.cacheManager.get('cacheable-key');
        if (!value) await this.cacheManager.set('cacheable-key', 'cacheable-value');
        return value;
      }
    }
    // A Cacheable with nonBlocking races its layers in clear() and disconnect(): the Redis layer's clear (a SCAN)
    // goes on after clear() resolved. The test awaits it before closing, so no connection outlives the test.
    const secondary = new Keyv({ store: new KeyvRedis(redis.url) });
    const clearing: Promise<void>[] = [];
    const clear = secondary.clear.bind(secondary);
    secondary.clear = () => {
      const done = clear();
      clearing.push(done);
      return done;
    };
    const cacheable = new Cacheable({
      primary: memoryKeyv(),
      secondary,
      nonBlocking: true,
      ttl: 30_000,
      namespace: 'test-cacheable',
    });
    const app = await http({
      imports: [CacheModule.registerAsync({ useFactory: async () => ({ stores: cacheable, tiercache }) })],
      controllers: [CacheableController],
    });
    await app.http().get('/').expect(200, '');
    await waitFor(async () => (await cacheable.get('cacheable-key')) === 'cacheable-value', {
      message: 'the non-blocking write',
    });
    await app.http().get('/').expect(200, 'cacheable-value');
    // As the official suite's afterAll (what a Cacheable's own clear() then does is the Cacheable's business).
    await expect(app.app.get<Cache>(CACHE_MANAGER).clear()).resolves.toBe(true);
    await Promise.all(clearing);
    expect(clearing).toHaveLength(1);
  });

  it('custom TTL (@CacheTTL on handler and controller) and the X-Cache header, cached in the stores', async () => {
    @Controller()
    @CacheTTL(600)
    class CustomTtlController {
      counter = 0;

      @Get()
      @CacheTTL(500)
      @UseInterceptors(CacheInterceptor)
      handler(): number {
        return this.counter++;
      }

      @Get('controller')
      @UseInterceptors(CacheInterceptor)
      controllerTtl(): number {
        return this.counter++;
      }

      @Get('keyed')
      @CacheKey('events')
      @UseInterceptors(CacheInterceptor)
      keyed(): string {
        return 'events';
      }
    }
    const memory = memoryKeyv();
    const remote = redisKeyv();
    const app = await http({
      imports: [CacheModule.register({ stores: [memory, remote], tiercache })],
      controllers: [CustomTtlController],
    });
    const before = Date.now();
    await app.http().get('/').expect(200, '0').expect('X-Cache', 'MISS');
    await waitFor(async () => (await remote.get('/')) === 0, { message: 'the cached response' });
    await app.http().get('/').expect(200, '0').expect('X-Cache', 'HIT');
    const handler = (await memory.getRaw('/'))?.expires ?? 0;
    expect(handler).toBeGreaterThanOrEqual(before + 500);
    expect(handler).toBeLessThanOrEqual(Date.now() + 500);
    await app.http().get('/controller').expect(200, '1').expect('X-Cache', 'MISS');
    await waitFor(async () => (await memory.get('/controller')) === 1, { message: 'the controller response' });
    expect(((await memory.getRaw('/controller'))?.expires ?? 0) - Date.now()).toBeLessThanOrEqual(600);
    await app.http().get('/controller').expect(200, '1').expect('X-Cache', 'HIT');
    await app.http().get('/keyed').expect('X-Cache', 'MISS');
    await waitFor(async () => (await remote.get('events')) === 'events', { message: 'the @CacheKey entry' });
  });

  it('default TTL with stores: 5 s as @nestjs/cache-manager; ttl or tiercache.defaultTtl when given', async () => {
    const expiresIn = async (options: CacheModuleOptions): Promise<number> => {
      const memory = memoryKeyv();
      const { cache } = (await context({ ...options, stores: [memory] })).get(Consumer);
      await cache.set('t', 1);
      return ((await memory.getRaw('t'))?.expires ?? 0) - Date.now();
    };
    for (const [options, ms] of [
      [{}, 5_000],
      [{ ttl: 3_000 }, 3_000],
      [{ tiercache: { defaultTtl: '2s' } }, 2_000],
    ] as const) {
      const left = await expiresIn(options);
      expect(left).toBeGreaterThan(ms - 1_000);
      expect(left).toBeLessThanOrEqual(ms);
    }
  });

  it('registerAsync: useClass injecting an extraProvider that builds the stores, isGlobal', async () => {
    const remote = redisKeyv();
    @Injectable()
    class StoreFactory {
      stores(): Keyv[] {
        return [remote];
      }
    }
    @Injectable()
    class CacheConfig implements CacheOptionsFactory {
      constructor(private readonly factory: StoreFactory) {}
      createCacheOptions(): CacheModuleOptions {
        return { stores: this.factory.stores(), ttl: 1_500, tiercache };
      }
    }
    @Module({ providers: [Consumer] })
    class FeatureModule {}
    @Module({
      imports: [
        CacheModule.registerAsync({ extraProviders: [StoreFactory], isGlobal: true, useClass: CacheConfig }),
        FeatureModule,
      ],
    })
    class AppModule {}
    const app = await NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false });
    open.push(app);
    await app.get(Consumer).cache.set('g', 'global');
    await expect(remote.get('g')).resolves.toBe('global');
    expect(((await remote.getRaw('g'))?.expires ?? 0) - Date.now()).toBeLessThanOrEqual(1_500);
  });

  it("namespace: wraps adapters with it, applies it to a Keyv on Keyv's default, keeps a Keyv's own", async () => {
    const map = new Map<string, unknown>();
    const onDefault = new Keyv({ store: new Map() });
    const own = new Keyv({ store: new Map(), namespace: 'custom' });
    const { cache } = (await context({ stores: [map, onDefault, own], namespace: 'app', tiercache })).get(Consumer);
    await cache.set('k', 'v');
    expect(map.has('app:k')).toBe(true);
    expect(onDefault.namespace).toBe('app');
    await expect(onDefault.get('k')).resolves.toBe('v');
    expect(own.namespace).toBe('custom');
    await expect(own.get('k')).resolves.toBe('v');
  });

  it('app.close() disconnects the stores, as @nestjs/cache-manager does', async () => {
    const remote = redisKeyv();
    const app = await context({ stores: [remote], tiercache });
    open.splice(open.indexOf(app), 1); // closed here
    await app.get(Consumer).cache.set('k', 'v');
    const client = (remote.store as KeyvRedis<unknown>).client;
    expect(client.isOpen).toBe(true);
    await app.close();
    expect(client.isOpen).toBe(false);
  });
});
