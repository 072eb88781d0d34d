// nestjs-tiercache/compat `stores` under faults: non-blocking writes that resolve while a store holds them, reads
// that race the stores, stores that throw or never answer (a real Keyv over a faulty adapter) answered by the
// deadline and counted, a per-store breaker that skips a failing store and lets it back once it answers, and a real
// Redis behind @keyv/redis frozen (SIGSTOP) and killed. Nothing is timed: a call that resolves while a store still
// holds or hangs can only have been answered without it.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Inject, Injectable, Module } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createKeyv } from '@keyv/redis';
import { CacheableMemory } from 'cacheable';
import { Keyv } from 'keyv';
import { CacheService } from 'nestjs-tiercache';
import { CACHE_MANAGER, Cache, CacheModule } from 'nestjs-tiercache/compat';
import type { CacheModuleOptions } from 'nestjs-tiercache/compat';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { FaultyStore } from './faulty-store.js';

@Injectable()
class Consumer {
  constructor(@Inject(CACHE_MANAGER) readonly cache: Cache) {}
}

const memoryKeyv = (): Keyv => new Keyv({ store: new CacheableMemory({ ttl: 60_000, lruSize: 5_000 }) });
/** A real Keyv over a faulty adapter; `throwOnErrors` so the adapter's failures reach the cache (Keyv's default swallows them). */
const faultyKeyv = (faulty: FaultyStore): Keyv => new Keyv({ store: faulty, throwOnErrors: true });
/** Long enough that no timeout can be what answered a call in the non-blocking tests. */
const NO_TIMEOUT = { commandTimeout: 60_000 };
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('nestjs-tiercache/compat stores under faults', () => {
  const apps: INestApplicationContext[] = [];
  const faulty: FaultyStore[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  const open = async (options: CacheModuleOptions): Promise<Cache> => {
    @Module({ imports: [CacheModule.register(options)], providers: [Consumer] })
    class AppModule {}
    const app = await NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false });
    apps.push(app);
    return app.get(Consumer).cache;
  };
  const store = (): FaultyStore => {
    const s = new FaultyStore();
    faulty.push(s);
    return s;
  };
  const statsOf = (): { errors: number; hits: number } | undefined => {
    const app = apps[apps.length - 1];
    return app?.get(CacheService).stats().namespaces['keyv'];
  };

  beforeAll(() => {
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(async () => {
    for (const s of faulty.splice(0)) {
      s.release();
      s.failPending(); // late failures of hung calls must be handled by the cache, never surface
    }
    for (const app of apps.splice(0)) await app.close();
    await flush();
    expect(unhandled).toEqual([]);
  });
  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  describe('nonBlocking', () => {
    it('set and del resolve while a store still holds the write; the write lands once it goes on', async () => {
      const memory = memoryKeyv();
      const slow = store();
      slow.mode = { get: 'ok', set: 'held', delete: 'held' };
      const cache = await open({ stores: [memory, faultyKeyv(slow)], nonBlocking: true, tiercache: NO_TIMEOUT });
      await expect(cache.set('k', 'v')).resolves.toBe('v');
      await waitFor(() => slow.pending.length === 1, { message: 'the write to reach the second store' });
      expect(slow.data.has('keyv:k')).toBe(false); // held there: set resolved without it, and no timeout can have
      await waitFor(async () => (await memory.get('k')) === 'v', { message: 'the first store to take the write' });
      slow.release();
      await waitFor(() => slow.data.has('keyv:k'), { message: 'the held write to land' });
      await expect(cache.del('k')).resolves.toBe(true);
      expect(slow.data.has('keyv:k')).toBe(true);
      slow.release();
      await waitFor(() => !slow.data.has('keyv:k'), { message: 'the held delete to land' });
    });

    it('get races the stores: the first to answer wins while another still holds the read', async () => {
      const slow = store();
      slow.mode.get = 'held';
      const memory = memoryKeyv();
      const cache = await open({ stores: [faultyKeyv(slow), memory], nonBlocking: true, tiercache: NO_TIMEOUT });
      await memory.set('k', 'from-memory');
      await expect(cache.get('k')).resolves.toBe('from-memory');
      await waitFor(() => slow.count('get') === 1, { message: 'the held store to have been asked too' });
      await expect(cache.mget(['k', 'x'])).resolves.toEqual(['from-memory', undefined]);
    });

    it('without nonBlocking, set waits for every store', async () => {
      const slow = store();
      slow.mode.set = 'held';
      const cache = await open({ stores: [memoryKeyv(), faultyKeyv(slow)], tiercache: NO_TIMEOUT });
      let done = false;
      const setting = cache.set('k', 'v').then(() => (done = true));
      await waitFor(() => slow.count('set') === 1, { message: 'the write to reach the second store' });
      await flush();
      expect(done).toBe(false);
      slow.release();
      await setting;
      expect(done).toBe(true);
    });
  });

  describe('a store that throws or never answers', () => {
    const fast = { commandTimeout: 200, breaker: { threshold: 100 } };

    it('throws: the next store answers, wrap answers from it, writes go on; counted as errors', async () => {
      const broken = store();
      broken.mode = { get: 'throw', set: 'throw', delete: 'throw' };
      const memory = memoryKeyv();
      const cache = await open({ stores: [faultyKeyv(broken), memory], tiercache: fast });
      await memory.set('k', 'v');
      await expect(cache.get('k')).resolves.toBe('v');
      await expect(cache.wrap('k', async () => 'from-source')).resolves.toBe('v');
      await expect(cache.wrap('other', async () => 'from-source')).resolves.toBe('from-source');
      await expect(memory.get('other')).resolves.toBe('from-source');
      await expect(cache.set('s', 1)).resolves.toBe(1);
      await expect(cache.del('s')).resolves.toBe(true);
      expect(statsOf()?.errors).toBeGreaterThanOrEqual(6);
    });

    it('never answers: get misses, wrap answers from the source, set and del resolve, all while it still hangs', async () => {
      const hung = store();
      hung.mode = { get: 'hang', set: 'hang', delete: 'hang' };
      const cache = await open({ stores: [faultyKeyv(hung), memoryKeyv()], tiercache: fast });
      await expect(cache.get('k')).resolves.toBeUndefined();
      await expect(cache.ttl('k')).resolves.toBeUndefined();
      await expect(cache.wrap('k', async () => 'from-source')).resolves.toBe('from-source');
      await expect(cache.set('k', 'v')).resolves.toBe('v');
      await expect(cache.del('k')).resolves.toBe(true);
      await expect(cache.mget(['a', 'b'])).resolves.toEqual([undefined, undefined]);
      expect(hung.pending.length).toBeGreaterThanOrEqual(6); // every call it got is still hanging
      expect(statsOf()?.errors).toBeGreaterThanOrEqual(6);
    });

    it('the breaker skips a store after consecutive failures and lets it back once a probe gets an answer', async () => {
      const flaky = store();
      flaky.mode.get = 'throw';
      const memory = memoryKeyv();
      const tiercache = { commandTimeout: 1_000, breaker: { threshold: 2, probeInterval: 20 } };
      const cache = await open({ stores: [faultyKeyv(flaky), memory], tiercache });
      await memory.set('k', 'memory');
      await cache.get('k');
      await cache.get('k');
      expect(flaky.count('get')).toBe(2);
      await expect(cache.get('k')).resolves.toBe('memory'); // skipped: the store is not called
      expect(flaky.count('get')).toBe(2);
      flaky.mode.get = 'ok';
      flaky.data.set('keyv:k', JSON.stringify({ value: 'flaky' }));
      await waitFor(async () => (await cache.get('k')) === 'flaky', { message: 'the store to be used again' });
    });
  });

  describe('a real Redis behind @keyv/redis', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await RedisServer.start();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it('frozen, then killed: reads answer from memory or as misses, wrap from the source, no throw', async () => {
      const memory = memoryKeyv();
      const remote = createKeyv(redis.url);
      const tiercache = { commandTimeout: 300, breaker: { threshold: 100 } };
      const cache = await open({ stores: [memory, remote], ttl: 60_000, tiercache });
      await cache.set('both', 'v');
      await remote.set('remote-only', 'r');
      redis.freeze();
      try {
        await expect(cache.get('both')).resolves.toBe('v');
        await expect(cache.get('remote-only')).resolves.toBeUndefined();
        await expect(cache.wrap('remote-only', async () => 'from-source')).resolves.toBe('from-source');
        await expect(cache.set('k', 'v2')).resolves.toBe('v2');
        await expect(memory.get('k')).resolves.toBe('v2');
        expect(statsOf()?.errors).toBeGreaterThanOrEqual(3);
      } finally {
        redis.thaw();
      }
      await redis.kill();
      await expect(cache.get('both')).resolves.toBe('v');
      await expect(cache.wrap('gone', async () => 'from-source')).resolves.toBe('from-source');
      await expect(cache.del('both')).resolves.toBe(true);
      await expect(memory.get('both')).resolves.toBeUndefined();
    });
  });
});
