import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { CacheService } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { bootCache, UserRepo } from './fixtures.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis.stop();
});

const modes: [string, () => CacheModuleOptions][] = [
  ['memory backend', () => ({ prefix: 'dec-mem' })],
  ['redis backend', () => ({ prefix: 'dec-redis', redis: redis.url })],
  ['redis + memory tier', () => ({ prefix: 'dec-tier', redis: redis.url, memory: { maxEntries: 1000 } })],
];

describe.each(modes)('decorators on %s', (_mode, options) => {
  let app: INestApplicationContext;
  let repo: UserRepo;
  let cache: CacheService;

  beforeAll(async () => {
    app = await bootCache({ ...options(), namespaces: { file: { maxValueBytes: 1024 } } });
    repo = app.get(UserRepo);
    cache = app.get(CacheService);
  });
  afterAll(async () => {
    await app.close();
  });
  afterEach(async () => {
    await cache.clearNamespace('user');
    repo.rows.clear();
    repo.loads = 0;
  });

  it('serves the second call from the cache and keeps the method name', async () => {
    repo.rows.set(1, { id: 1, name: 'ann', balance: 10 });
    expect(await repo.getUser(1)).toEqual({ id: 1, name: 'ann', balance: 10 });
    expect(await repo.getUser(1)).toEqual({ id: 1, name: 'ann', balance: 10 });
    expect(repo.loads).toBe(1);
    expect(repo.getUser.name).toBe('getUser');
    expect(await cache.get('user', 1)).toEqual({ id: 1, name: 'ann', balance: 10 });
  });

  it('caches null, 0, empty string and false as real hits', async () => {
    for (const v of [null, 0, '', false]) {
      repo.loads = 0;
      expect(await repo.echo(v)).toBe(v);
      expect(await repo.echo(v)).toBe(v);
      expect(repo.loads).toBe(1);
    }
    expect(await repo.getUser(404)).toBeNull();
    expect(await repo.getUser(404)).toBeNull();
    expect(repo.loads).toBe(2);
  });

  it('@CachePut replaces the entry with the returned value', async () => {
    repo.rows.set(2, { id: 2, name: 'bo', balance: 100 });
    await repo.getUser(2);
    await repo.charge(2, 30);
    expect(await repo.getUser(2)).toEqual({ id: 2, name: 'bo', balance: 70 });
    expect(repo.loads).toBe(1);
  });

  it('@CacheInvalidate removes the entry after success, not when the method throws', async () => {
    repo.rows.set(3, { id: 3, name: 'cy', balance: 1 });
    await repo.getUser(3);
    await expect(repo.rename(99, 'x')).rejects.toThrow('no user 99');
    await repo.rename(3, 'cyd');
    expect((await repo.getUser(3))?.name).toBe('cyd');
    expect(repo.loads).toBe(2);
  });

  it('invalidateOn: an event invalidates exactly the entry it names', async () => {
    repo.rows.set(4, { id: 4, name: 'di', balance: 5 });
    repo.rows.set(5, { id: 5, name: 'ed', balance: 5 });
    await repo.getUser(4);
    await repo.getUser(5);
    repo.rows.set(4, { id: 4, name: 'di', balance: 50 });
    await app.get(EventEmitter2).emitAsync('payment.completed', { userId: 4 });
    expect((await repo.getUser(4))?.balance).toBe(50);
    await repo.getUser(5);
    expect(repo.loads).toBe(3);
  });

  it('@OnEvent and @CacheInvalidate on one method both work', async () => {
    repo.rows.set(6, { id: 6, name: 'fa', balance: 0 });
    await repo.getUser(6);
    await app.get(EventEmitter2).emitAsync('user.renamed', { id: 6, name: 'fay' });
    expect(repo.events).toContain('renamed:6');
    expect((await repo.getUser(6))?.name).toBe('fay');
  });

  it('propagates the method error untouched, runs it once, and never caches it', async () => {
    const boom = new Error('db down');
    repo.failNext = boom;
    await expect(repo.getUser(7)).rejects.toBe(boom);
    expect(repo.loads).toBe(1);
    repo.rows.set(7, { id: 7, name: 'gi', balance: 1 });
    expect((await repo.getUser(7))?.name).toBe('gi');
    expect(repo.loads).toBe(2);
  });

  it('stampede: 1,000 concurrent misses run the loader once; a rejection is shared and not cached', async () => {
    repo.rows.set(8, { id: 8, name: 'ha', balance: 1 });
    let open!: () => void;
    repo.gate = new Promise<void>((resolve) => (open = resolve));
    const calls = Array.from({ length: 1000 }, () => repo.getUser(8));
    await waitFor(() => repo.loads === 1);
    open();
    const results = await Promise.all(calls);
    repo.gate = undefined;
    expect(repo.loads).toBe(1);
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);

    await cache.delete('user', 8);
    repo.loads = 0;
    const boom = new Error('shared');
    repo.failNext = boom;
    const failing = await Promise.allSettled(Array.from({ length: 100 }, () => repo.getUser(8)));
    expect(repo.loads).toBe(1);
    expect(failing.every((r) => r.status === 'rejected' && r.reason === boom)).toBe(true);
    expect((await repo.getUser(8))?.name).toBe('ha');
    expect(repo.loads).toBe(2);
    expect(cache.stats().inFlight).toBe(0);
  });

  it('default keys: same object in any property order hits; tags invalidate', async () => {
    expect(await repo.search({ term: 'a', limit: 1 })).toEqual(['a:1']);
    expect(await repo.search({ limit: 1, term: 'a' } as { term: string; limit: number })).toEqual(['a:1']);
    expect(repo.loads).toBe(1);
    await repo.search({ term: 'a', limit: 2 });
    expect(repo.loads).toBe(2);
    expect(await cache.invalidateTags(['term:a'])).toBeGreaterThanOrEqual(0);
    await repo.search({ term: 'a', limit: 1 });
    expect(repo.loads).toBe(3);
  });

  it('refuses values over maxValueBytes (counted) and still returns them', async () => {
    const before = cache.stats().namespaces.file?.refused ?? 0;
    expect((await repo.file('big', 4096)).length).toBe(4096);
    expect((await repo.file('big', 4096)).length).toBe(4096);
    expect(repo.loads).toBe(2);
    expect(cache.stats().namespaces.file?.refused).toBe(before + 2);
    const small = await repo.file('small', 16);
    expect(Buffer.isBuffer(await cache.get('file', 'small'))).toBe(true);
    expect(await cache.get('file', 'small')).toEqual(small);
  });
});

describe('CACHE_ENABLED=false', () => {
  it('runs every decorated method uncached', async () => {
    const app = await bootCache({ enabled: false });
    const repo = app.get(UserRepo);
    repo.rows.set(1, { id: 1, name: 'a', balance: 1 });
    await repo.getUser(1);
    await repo.getUser(1);
    expect(repo.loads).toBe(2);
    expect(await app.get(CacheService).get('user', 1)).toBeUndefined();
    await app.close();
  });
});
