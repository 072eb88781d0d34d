// Regression of the first bug the coherence checker found (seed 12345, `COHERENCE_SEED=12345`): `update` and
// `append` are no-ops on a miss, and left the key as it was — so a load in another instance that had read Redis
// (absent) and then the source before the write committed cached the old value after the write completed, stale
// until its TTL. They now leave a tombstone as an invalidation does. Deterministic here: instance B has no memory tier
// (so no bus marks its load), and its loader is held after its source read until A's write has returned.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import { CacheService } from 'nestjs-tiercache';
import { bootCache } from '../cache/fixtures.js';
import { RedisServer } from '../harness/redis-server.js';

let redis: RedisServer;
let a: INestApplicationContext;
let b: INestApplicationContext;

beforeAll(async () => {
  redis = await RedisServer.start();
  a = await bootCache({ prefix: 'nowrite', redis: redis.url, memory: {} }, []);
  b = await bootCache({ prefix: 'nowrite', redis: redis.url }, []);
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  await redis?.stop();
});

/** B starts a load that reads the source now and returns what it read once `release` is called. */
function heldLoad<T>(read: () => T): { started: Promise<void>; release: () => void; loaded: Promise<T> } {
  let release!: () => void;
  let started!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const startedP = new Promise<void>((resolve) => (started = resolve));
  const loaded = (async () => {
    const value = read();
    started();
    await gate;
    return value;
  })();
  return { started: startedP, release, loaded };
}

describe('a no-op update or append still fences loads that read the source before the write', () => {
  it('update on a miss: B does not cache the row A replaced', async () => {
    let row = { v: 1 };
    const load = heldLoad(() => row);
    const reading = b.get(CacheService).getOrSet('row', 1, () => load.loaded);
    await load.started;
    row = { v: 2 };
    // Nothing is cached: the update changes nothing, but must leave the key fenced.
    expect(
      await a.get(CacheService).update<{ v: number }>('row', 1, (cur) => (cur.v >= 2 ? cur : row)),
    ).toBeUndefined();
    load.release();
    expect(await reading).toEqual({ v: 1 });
    // What a read finds now: the old row would be stale until its TTL.
    expect(await a.get(CacheService).get('row', 1)).toBeUndefined();
    expect(await b.get(CacheService).getOrSet('row', 1, () => row)).toEqual({ v: 2 });
  });

  it('append on a miss: B does not cache the list without A’s item', async () => {
    let items = ['m1'];
    const load = heldLoad(() => [...items]);
    const reading = b.get(CacheService).getOrSetList('thread', 1, () => load.loaded, { maxLength: 10 });
    await load.started;
    items = [...items, 'm2'];
    expect(await a.get(CacheService).append('thread', 1, 'm2', { maxLength: 10 })).toBe(false);
    load.release();
    expect(await reading).toEqual(['m1']);
    expect(await a.get(CacheService).getList('thread', 1)).toBeUndefined();
    expect(await b.get(CacheService).getOrSetList('thread', 1, () => items, { maxLength: 10 })).toEqual(['m1', 'm2']);
  });
});
