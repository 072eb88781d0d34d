// Regression of the stale Redis reads the coherence checker kept finding near bus faults (issue #14): a prefix
// invalidation, a namespace clear or a tag invalidation cannot leave a tombstone on a key that is absent when it runs,
// so a load in another instance that had read Redis (absent) and then the source before the write committed cached the
// old value after the invalidation completed — stale for every instance until its TTL. Only the bus message, marking
// that load in flight, stopped it, and a delayed bus (or an instance without memory tier: no bus at all) let it
// through. Loads now read a load fence before their loader runs and write only if it did not move.
// Deterministic here: instance B has no memory tier (no bus marks its load), and its loader is held after its source
// read until A's invalidation has returned. On standalone Redis the fence is checked inside the write's script; on
// Cluster (fences on other masters) right after the write lands.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import { CacheService, composeKey } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { bootCache } from '../cache/fixtures.js';
import { RedisServer } from '../harness/redis-server.js';
import { LocalCluster } from '../topologies/support/cluster.js';

/** A loader for B that reads the source when B calls it, then holds what it read until `release` is called. */
function heldLoad<T>(read: () => T): { loader: () => Promise<T>; started: Promise<void>; release: () => void } {
  let release!: () => void;
  let started!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const startedP = new Promise<void>((resolve) => (started = resolve));
  const loader = async (): Promise<T> => {
    const value = read();
    started();
    await gate;
    return value;
  };
  return { loader, started: startedP, release };
}

type Row = { v: number };

function suite(
  topology: string,
  start: () => Promise<{ redis: CacheModuleOptions['redis']; stop: () => Promise<void> }>,
) {
  describe(`${topology}: a load that read the source before an invalidation of a set of keys does not cache after it`, () => {
    let stop: () => Promise<void>;
    let a: INestApplicationContext;
    let b: INestApplicationContext;
    let id = 0;
    const A = (): CacheService => a.get(CacheService);
    const B = (): CacheService => b.get(CacheService);

    beforeAll(async () => {
      const server = await start();
      stop = server.stop;
      a = await bootCache({ prefix: 'fence', redis: server.redis, memory: {} }, []);
      b = await bootCache({ prefix: 'fence', redis: server.redis }, []);
    }, 60_000);

    afterAll(async () => {
      await a?.close();
      await b?.close();
      await stop?.();
    });

    /**
     * B loads `key` in `namespace` (held after its source read), A changes the source and runs `invalidate`, then B's
     * load finishes: returns what B's load answered, and what a read through A and a fresh load through B find.
     */
    async function race(
      namespace: string,
      key: unknown,
      invalidate: () => Promise<unknown>,
      tags?: string[],
    ): Promise<{ answered: Row; cached: Row | undefined; reloaded: Row }> {
      let row: Row = { v: 1 };
      const load = heldLoad(() => row);
      const reading = B().getOrSet(namespace, key, load.loader, tags ? { tags } : undefined);
      await load.started;
      row = { v: 2 };
      await invalidate();
      load.release();
      const answered = await reading;
      const cached = await A().get<Row>(namespace, key);
      const reloaded = await B().getOrSet(namespace, key, () => row, tags ? { tags } : undefined);
      return { answered, cached, reloaded };
    }

    it('invalidatePrefix: B does not cache the row A replaced', async () => {
      const key = composeKey(++id, 'day');
      const r = await race('row', key, () => A().invalidatePrefix('row', [id]));
      expect(r.answered).toEqual({ v: 1 });
      expect(r.cached).toBeUndefined();
      expect(r.reloaded).toEqual({ v: 2 });
    });

    it('clearNamespace: B does not cache the row A replaced', async () => {
      const r = await race('row', ++id, () => A().clearNamespace('row'));
      expect(r.answered).toEqual({ v: 1 });
      expect(r.cached).toBeUndefined();
      expect(r.reloaded).toEqual({ v: 2 });
    });

    it('invalidateTags: B does not cache the tagged row A replaced', async () => {
      const r = await race('row', ++id, () => A().invalidateTags([`t${id}`]), [`t${id}`]);
      expect(r.answered).toEqual({ v: 1 });
      expect(r.cached).toBeUndefined();
      expect(r.reloaded).toEqual({ v: 2 });
    });

    it('getOrSetList: a namespace clear keeps the list B loaded before it out of the cache', async () => {
      const thread = ++id;
      let items = ['m1'];
      const load = heldLoad(() => [...items]);
      const reading = B().getOrSetList('thread', thread, load.loader, { maxLength: 10 });
      await load.started;
      items = [...items, 'm2'];
      await A().clearNamespace('thread');
      load.release();
      expect(await reading).toEqual(['m1']);
      expect(await A().getList('thread', thread)).toBeUndefined();
      expect(await B().getOrSetList('thread', thread, () => items, { maxLength: 10 })).toEqual(['m1', 'm2']);
    });

    it('an untagged load is not held back by a tag invalidation, nor a load by another namespace’s clear', async () => {
      // Nothing changed what these loads read: they must be cached (a fence too wide would cost a miss each time).
      const untagged = ++id;
      const r1 = await race('row', untagged, () => A().invalidateTags(['unrelated']));
      expect(r1.cached).toEqual({ v: 1 });
      const other = ++id;
      const r2 = await race('row', other, () => A().clearNamespace('elsewhere'));
      expect(r2.cached).toEqual({ v: 1 });
    });

    it('a load that starts after the invalidation is cached', async () => {
      const key = ++id;
      await A().clearNamespace('row');
      await A().invalidateTags([`t${key}`]);
      expect(await B().getOrSet('row', key, () => ({ v: 7 }), { tags: [`t${key}`] })).toEqual({ v: 7 });
      expect(await A().get('row', key)).toEqual({ v: 7 });
    });
  });
}

suite('standalone', async () => {
  const server = await RedisServer.start();
  return { redis: server.url, stop: () => server.stop() };
});

suite('Cluster', async () => {
  const cluster = await LocalCluster.start();
  return { redis: { cluster: { nodes: cluster.seeds } }, stop: () => cluster.stop() };
});
