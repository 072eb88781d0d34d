// Regressions of issue "Core reshaped", item 3 (sync methods compiled without type metadata) and item 4 (a list read
// the wrong way, lone surrogates in composed keys, lists over 8,000 items, per-namespace state bounded, the default
// hard timeout) — on the memory backend and on a real Redis.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable, Logger } from '@nestjs/common';
import type { INestApplicationContext, LoggerService } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import { Cached, CacheInvalidate, CacheModule, CacheService, composeKey } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { resolveOptions } from '../../libs/cache/src/options/options.resolver.js';
import { RedisServer } from '../harness/redis-server.js';
import { bootCache } from './fixtures.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(() => redis?.stop());

const setups: [string, () => CacheModuleOptions][] = [
  ['memory', () => ({ prefix: 'reg-m' })],
  ['Redis', () => ({ prefix: 'reg-r', redis: redis.url })],
  ['memory + Redis', () => ({ prefix: 'reg-t', redis: redis.url, memory: { maxEntries: 100 } })],
];

describe.each(setups)('item 4 on %s', (_label, options) => {
  let app: INestApplicationContext;
  let cache: CacheService;
  beforeAll(async () => {
    app = await bootCache(options(), []);
    cache = app.get(CacheService);
  });
  afterAll(() => app?.close());

  it('a list read as a value (and a value read as a list) is a typed error, and the entry stays', async () => {
    await cache.setList('messages', 'thread:1', ['a', 'b'], { maxLength: 10 });
    await expect(cache.get('messages', 'thread:1')).rejects.toMatchObject({ code: 'E_KIND_MISMATCH' });
    await expect(cache.getOrSet('messages', 'thread:1', () => 'x')).rejects.toMatchObject({ code: 'E_KIND_MISMATCH' });
    expect(await cache.getList('messages', 'thread:1')).toEqual(['a', 'b']);
    expect(cache.stats().namespaces.messages?.corrupt ?? 0).toBe(0);

    await cache.set('messages', 'single', { v: 1 });
    await expect(cache.getList('messages', 'single')).rejects.toMatchObject({ code: 'E_KIND_MISMATCH' });
    expect(await cache.get('messages', 'single')).toEqual({ v: 1 });
  });

  it('callers arriving while a first read is in flight share its answer, a kind mismatch included', async () => {
    await cache.set('messages', 'shared', { v: 2 });
    const loads: number[] = [];
    const callers = (key: string): Promise<PromiseSettledResult<unknown>[]> =>
      Promise.allSettled(Array.from({ length: 5 }, (_, i) => cache.getOrSet('messages', key, () => loads.push(i))));
    const hits = await callers('shared');
    expect(hits).toEqual(Array.from({ length: 5 }, () => ({ status: 'fulfilled', value: { v: 2 } })));
    await cache.setList('messages', 'thread:2', ['a'], { maxLength: 10 });
    for (const outcome of await callers('thread:2'))
      expect(outcome).toMatchObject({ status: 'rejected', reason: { code: 'E_KIND_MISMATCH' } });
    expect(loads).toEqual([]);
    expect(await cache.getList('messages', 'thread:2')).toEqual(['a']);
  });

  it('composed keys are injective for every JS string: lone surrogates never collide with U+FFFD', async () => {
    const long = 'p'.repeat(80);
    expect(composeKey(long + '\uD800')).not.toBe(composeKey(long + '\uFFFD'));
    expect(composeKey('\uD800', 'a')).not.toBe(composeKey('\uFFFD', 'a'));
    await cache.set('stats', composeKey('\uD800', 'day1'), 'lone');
    await cache.set('stats', composeKey('\uFFFD', 'day1'), 'replacement');
    await cache.set('stats', composeKey(long + '\uD800', 'day1'), 'long-lone');
    await cache.set('stats', composeKey(long + '\uFFFD', 'day1'), 'long-replacement');
    expect(await cache.get('stats', composeKey('\uD800', 'day1'))).toBe('lone');
    expect(await cache.get('stats', composeKey('\uFFFD', 'day1'))).toBe('replacement');
    expect(await cache.get('stats', composeKey(long + '\uD800', 'day1'))).toBe('long-lone');
    expect(await cache.invalidatePrefix('stats', ['\uD800'])).toBe(1);
    expect(await cache.get('stats', composeKey('\uD800', 'day1'))).toBeUndefined();
    expect(await cache.get('stats', composeKey('\uFFFD', 'day1'))).toBe('replacement');
    expect(await cache.get('stats', composeKey(long + '\uFFFD', 'day1'))).toBe('long-replacement');
  });

  it('invalidatePrefix reaches composed keys longer than the verbatim limit', async () => {
    const parts = Array.from({ length: 6 }, (_, i) => `${i}`.repeat(50));
    await cache.set('stats', composeKey('user7', ...parts), 'long composed');
    await cache.set('stats', composeKey('user8', ...parts), 'other user');
    expect(await cache.get('stats', composeKey('user7', ...parts))).toBe('long composed');
    expect(await cache.invalidatePrefix('stats', ['user7'])).toBeGreaterThanOrEqual(1);
    expect(await cache.get('stats', composeKey('user7', ...parts))).toBeUndefined();
    expect(await cache.get('stats', composeKey('user8', ...parts))).toBe('other user');
  });

  it('lists of 10,000+ items are written, appended and read back whole', async () => {
    const items = Array.from({ length: 10_000 }, (_, i) => ({ i }));
    expect(await cache.setList('messages', 'big', items, { maxLength: 30_000 })).toBe(true);
    expect((await cache.getList('messages', 'big'))?.length).toBe(10_000);
    const more = Array.from({ length: 9_000 }, (_, i) => ({ i: 10_000 + i }));
    expect(await cache.append('messages', 'big', more, { maxLength: 30_000 })).toBe(true);
    const all = await cache.getList<{ i: number }>('messages', 'big');
    expect(all?.length).toBe(19_000);
    expect(all?.[18_999]).toEqual({ i: 18_999 });
    const loaded = await cache.getOrSetList('messages', 'big-load', () => items, { maxLength: 30_000 });
    expect(loaded.length).toBe(10_000);
    expect((await cache.getList('messages', 'big-load'))?.length).toBe(10_000);
  });

  it('per-namespace state stays bounded over 5,000 distinct namespaces', async () => {
    for (let i = 0; i < 5_000; i++) await cache.getOrSet(`ns${i}`, 'k', () => i);
    expect(Object.keys(cache.stats().namespaces).length).toBeLessThanOrEqual(257);
    const other = cache.stats().namespaces._other;
    expect((other?.hits ?? 0) + (other?.misses ?? 0)).toBeGreaterThan(4_000);
  });
});

describe('default hard timeout', () => {
  it('is 30 s, overridable, and false disables it', () => {
    expect(resolveOptions({}).defaultNamespace.hardTimeoutMs).toBe(30_000);
    expect(resolveOptions({ hardTimeout: '2s' }).defaultNamespace.hardTimeoutMs).toBe(2_000);
    expect(resolveOptions({ hardTimeout: false }).defaultNamespace.hardTimeoutMs).toBeUndefined();
    expect(resolveOptions({ namespaces: { slow: { hardTimeout: false } } }).namespaces.get('slow')?.hardTimeoutMs).toBe(
      undefined,
    );
  });

  it('a loader that never settles releases its key at the hard timeout: later callers are not held by it', async () => {
    const app = await bootCache({ prefix: 'reg-hard', hardTimeout: '150ms' }, []);
    try {
      const cache = app.get(CacheService);
      const hung = cache.getOrSet('slow', 'k', () => new Promise<number>(() => undefined));
      const joined = cache.getOrSet('slow', 'k', () => 2);
      await expect(hung).rejects.toMatchObject({ code: 'E_TIMEOUT' });
      await expect(joined).rejects.toMatchObject({ code: 'E_TIMEOUT' });
      // The flight is gone: the next caller loads (and caches) anew.
      expect(await cache.getOrSet('slow', 'k', () => 3)).toBe(3);
      expect(cache.stats().inFlight).toBe(0);
    } finally {
      await app.close();
    }
  });
});

describe('item 3: a decorated synchronous method compiled without type metadata (plain JS)', () => {
  class Catalogue {
    calls = 0;
    price(id: number): number {
      this.calls++;
      return id * 10;
    }
    async name(id: number): Promise<string> {
      this.calls++;
      return `n${id}`;
    }
    rename(id: number): number {
      this.calls++;
      return id;
    }
  }
  // Decorators applied by hand, as plain JS does: no design:returntype metadata is recorded.
  for (const method of ['price', 'name'] as const) {
    const descriptor = Object.getOwnPropertyDescriptor(Catalogue.prototype, method)!;
    (Cached({ namespace: `cat-${method}` }) as (t: object, k: string, d: PropertyDescriptor) => void)(
      Catalogue.prototype,
      method,
      descriptor,
    );
  }
  (
    CacheInvalidate({ namespace: 'cat-price', key: (id: number) => id }) as (
      t: object,
      k: string,
      d: PropertyDescriptor,
    ) => void
  )(Catalogue.prototype, 'rename', Object.getOwnPropertyDescriptor(Catalogue.prototype, 'rename')!);
  Injectable()(Catalogue);

  it('keeps its return type, runs uncached, and a warning names Class#method; async ones still cache', async () => {
    const warnings: string[] = [];
    const logger: LoggerService = {
      log: () => undefined,
      error: () => undefined,
      warn: (message: unknown) => warnings.push(String(message)),
    };
    const moduleRef = await Test.createTestingModule({
      imports: [EventEmitterModule.forRoot(), CacheModule.forRoot({ prefix: 'reg-sync', isGlobal: true })],
      providers: [Catalogue],
    })
      .setLogger(logger)
      .compile();
    const app = moduleRef.createNestApplication();
    app.useLogger(logger);
    Logger.overrideLogger(logger);
    await app.init();
    try {
      const catalogue = app.get(Catalogue);
      const first = catalogue.price(3);
      expect(first).toBe(30);
      expect(catalogue.price(3)).toBe(30);
      expect(catalogue.calls).toBe(2);
      expect(warnings.some((w) => w.includes('Catalogue#price') && w.includes('synchronous'))).toBe(true);
      expect(catalogue.rename(3)).toBe(3);
      expect(warnings.some((w) => w.includes('Catalogue#rename'))).toBe(true);

      const name = catalogue.name(4);
      expect(name).toBeInstanceOf(Promise);
      expect(await name).toBe('n4');
      const calls = catalogue.calls;
      expect(await catalogue.name(4)).toBe('n4');
      expect(catalogue.calls).toBe(calls);
    } finally {
      await app.close();
      Logger.overrideLogger(false);
    }
  });
});
