// The memory tier's fill from a call's first read (readFirst: the fill ticket is taken before the read goes to Redis,
// and the call's own continuation fills the tier or releases the ticket), on a real Redis, through the public API.
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import { CacheService } from 'nestjs-tiercache';
import { MemoryBackend } from '../../libs/cache/src/backends/memory.backend.js';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { engineOf, entryKey } from '../support/cache-internals.js';
import { bootCache } from './fixtures.js';

let redis: RedisServer;
const apps: INestApplicationContext[] = [];
let runs = 0;

beforeAll(async () => {
  redis = await RedisServer.start();
});
afterEach(async () => {
  jest.restoreAllMocks();
  await Promise.all(apps.splice(0).map((app) => app.close()));
});
afterAll(() => redis?.stop());

/** An instance with a memory tier in front of the shared Redis, all under one prefix per test. */
async function instance(prefix: string): Promise<{ app: INestApplicationContext; cache: CacheService }> {
  const app = await bootCache(
    { prefix, redis: redis.url, memory: { maxEntries: 100 }, commandTimeout: '10s', defaultTtl: '1h' },
    [],
  );
  apps.push(app);
  const cache = app.get(CacheService);
  // The memory tier serves (and is filled) only once the invalidation bus is subscribed.
  await waitFor(async () => (await cache.set('warm', 0, 0)) && (cache.stats().memory?.entries ?? 0) > 0, {
    message: 'a trusted memory tier',
  });
  return { app, cache };
}

/** Fills the memory tier has in flight (every one must end, filled or released). */
const fillsInFlight = (app: INestApplicationContext): number =>
  (engineOf(app).store.memory as unknown as { tickets: { size: number } }).tickets.size;

/** Runs `write` on another instance and waits until `reader` has applied its bus message (which drops the key). */
async function heard(reader: INestApplicationContext, write: () => Promise<unknown>): Promise<void> {
  const applied = jest.spyOn(engineOf(reader).invalidator, 'applyRemote');
  await write();
  await waitFor(() => applied.mock.calls.length > 0, { message: "the writer's bus message" });
  applied.mockRestore();
}

const memoryHolds = (app: INestApplicationContext, key: number): unknown =>
  engineOf(app).store.memory?.peek(entryKey(app, 'user', key))?.value;

describe('the memory tier filled by a call that read Redis', () => {
  it('holds the value afterwards, so the next call is a memory hit (no loader, no Redis read)', async () => {
    const prefix = `fill-hit-${++runs}`;
    const writer = await instance(prefix);
    const reader = await instance(prefix);
    await heard(reader.app, () => writer.cache.set('user', 1, { name: 'Ada' }));
    const loads: string[] = [];
    expect(await reader.cache.getOrSet('user', 1, () => loads.push('a'))).toEqual({ name: 'Ada' });
    expect(memoryHolds(reader.app, 1)).toEqual({ name: 'Ada' });
    expect(await reader.cache.getOrSet('user', 1, () => loads.push('b'))).toEqual({ name: 'Ada' });
    const user = reader.cache.stats().namespaces.user;
    expect([user?.redisHits, user?.memoryHits, loads]).toEqual([1, 1, []]);
    expect(fillsInFlight(reader.app)).toBe(0);
  });

  it('keeps the old value out when the key is invalidated while the read is in flight', async () => {
    const prefix = `fill-race-${++runs}`;
    const writer = await instance(prefix);
    const reader = await instance(prefix);
    await heard(reader.app, () => writer.cache.set('user', 2, { v: 'old' }));
    // Redis answers the read with the old value; the answer reaches the call only after the whole invalidation
    // (memory, Redis, memory again) is done: only the fill ticket taken before the read can tell.
    const tiered = engineOf(reader.app).store.tiered!;
    const remote = tiered.readRemote.bind(tiered);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    jest.spyOn(tiered, 'readRemote').mockImplementationOnce(async (key) => {
      const answer = await remote(key);
      await gate;
      return answer;
    });
    const first = reader.cache.getOrSet('user', 2, () => ({ v: 'loaded-first' }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await reader.cache.delete('user', 2);
    open();
    expect(await first).toEqual({ v: 'old' });
    expect(memoryHolds(reader.app, 2)).toBeUndefined();
    expect(await reader.cache.getOrSet('user', 2, () => ({ v: 'new' }))).toEqual({ v: 'new' });
    expect(fillsInFlight(reader.app)).toBe(0);
  });

  it('releases the fill of a read that fails (a list read as a value), and fills nothing', async () => {
    const prefix = `fill-fail-${++runs}`;
    const reader = await instance(prefix);
    const other = await instance(prefix);
    await heard(reader.app, () => other.cache.setList('user', 3, ['a'], { maxLength: 10 }));
    await expect(reader.cache.getOrSet('user', 3, () => 'x')).rejects.toMatchObject({ code: 'E_KIND_MISMATCH' });
    expect(fillsInFlight(reader.app)).toBe(0);
    expect(memoryHolds(reader.app, 3)).toBeUndefined();
  });

  it('serves the hit when filling the memory tier throws, and leaves nothing of it there', async () => {
    const prefix = `fill-throw-${++runs}`;
    const writer = await instance(prefix);
    const reader = await instance(prefix);
    await heard(reader.app, () => writer.cache.set('user', 4, { name: 'Grace' }));
    const fill = jest.spyOn(MemoryBackend.prototype, 'fillUntilExpiry').mockImplementationOnce(() => {
      throw new Error('fill failed');
    });
    const loads: string[] = [];
    expect(await reader.cache.getOrSet('user', 4, () => loads.push('a'))).toEqual({ name: 'Grace' });
    expect(fill).toHaveBeenCalledTimes(1);
    expect(memoryHolds(reader.app, 4)).toBeUndefined();
    expect(fillsInFlight(reader.app)).toBe(0);
    // The next call reads Redis again (a hit, not a load) and fills the tier this time.
    expect(await reader.cache.getOrSet('user', 4, () => loads.push('b'))).toEqual({ name: 'Grace' });
    expect(memoryHolds(reader.app, 4)).toEqual({ name: 'Grace' });
    const user = reader.cache.stats().namespaces.user;
    expect([user?.redisHits, user?.errors, loads]).toEqual([2, 0, []]);
  });
});
