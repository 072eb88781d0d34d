import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { Cached, CacheInvalidate, CachePut, CacheService } from 'nestjs-tiercache';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { entryKey } from '../support/cache-internals.js';
import { bootCache } from './fixtures.js';

type Item = { id: number; name: string };

/** The database every app instance reads: one process, one source of truth. */
const db = new Map<number, Item>();

@Injectable()
class Items {
  loads = 0;

  @Cached({ namespace: 'item', key: (id: number) => id, tags: (id: number) => [`item:${id}`] })
  async get(id: number): Promise<Item | null> {
    this.loads++;
    const row = db.get(id);
    return row ? { ...row } : null;
  }

  @CacheInvalidate({ namespace: 'item', key: (id: number) => id })
  async rename(id: number, name: string): Promise<void> {
    db.set(id, { id, name });
  }

  @CachePut({ namespace: 'item', key: (id: number) => id })
  async save(id: number, name: string): Promise<Item> {
    db.set(id, { id, name });
    return { id, name };
  }
}

const PREFIX = 'bus';
const OTHER_PREFIX = 'bus-other';
const CHANNEL = `${PREFIX}:__bus`;
const ADMIN_PASSWORD = 'bus-admin-pw';
/** Set while the test keeps new connections out with `requirepass`; the apps' open connections stay authenticated. */
let requirepass: string | undefined;
const admin = (...args: (string | number)[]): Promise<unknown> =>
  server.commandWith({ password: requirepass }, ...args);

interface Instance {
  app: INestApplicationContext;
  items: Items;
  cache: CacheService;
}

let server: RedisServer;
let a: Instance;
let b: Instance;
let c: Instance;

async function instance(prefix: string): Promise<Instance> {
  const app = await bootCache({ prefix, redis: server.url, memory: { maxEntries: 1000 } }, [Items]);
  return { app, items: app.get(Items), cache: app.get(CacheService) };
}

function counters(i: Instance): { memoryHits: number; redisHits: number } {
  const s = i.cache.stats().namespaces['item'];
  return { memoryHits: s?.memoryHits ?? 0, redisHits: s?.redisHits ?? 0 };
}

/** Reads `id` on `i` and says which tier answered ('source' when the method ran). */
async function readTier(i: Instance, id: number): Promise<{ value: Item | null; tier: 'memory' | 'redis' | 'source' }> {
  const before = { ...counters(i), loads: i.items.loads };
  const value = await i.items.get(id);
  const after = counters(i);
  const tier = i.items.loads > before.loads ? 'source' : after.memoryHits > before.memoryHits ? 'memory' : 'redis';
  return { value, tier };
}

/** Fills `id` into the memory tier of `i` (waiting for its bus subscription, which gates the tier). */
async function fillMemory(i: Instance, id: number): Promise<void> {
  await waitFor(async () => (await readTier(i, id)).tier === 'memory', {
    timeoutMs: 2_000,
    message: `item ${id} in the memory tier`,
  });
}

async function subscribers(channel: string): Promise<number> {
  const reply = (await admin('PUBSUB', 'NUMSUB', channel)) as [string, number];
  return Number(reply[1]);
}

let nextId = 100;

beforeAll(async () => {
  server = await RedisServer.start();
  a = await instance(PREFIX);
  b = await instance(PREFIX);
  c = await instance(OTHER_PREFIX);
});

afterAll(async () => {
  await Promise.all([a, b, c].map((i) => i?.app.close()));
  await server.stop();
});

type Invalidation = [string, (id: number) => Promise<unknown>];
const invalidations: Invalidation[] = [
  ['delete', async (id) => (db.set(id, { id, name: 'v2' }), b.cache.delete('item', id))],
  ['@CacheInvalidate', (id) => b.items.rename(id, 'v2')],
  ['@CachePut', (id) => b.items.save(id, 'v2')],
  ['set', async (id) => (db.set(id, { id, name: 'v2' }), b.cache.set('item', id, { id, name: 'v2' }))],
  ['invalidateTags', async (id) => (db.set(id, { id, name: 'v2' }), b.cache.invalidateTags([`item:${id}`]))],
  ['clearNamespace', async (id) => (db.set(id, { id, name: 'v2' }), b.cache.clearNamespace('item'))],
];

describe.each([
  ['A loaded the value, B read it from Redis', 'a'],
  ['B loaded the value, A read it from Redis', 'b'],
])('cross-instance invalidation (%s)', (_order, loader) => {
  it.each(invalidations)(
    '%s on B: A (and B) read the new value within 1 s; another prefix is untouched',
    async (_name, invalidate) => {
      const id = nextId++;
      db.set(id, { id, name: 'v1' });
      const first = loader === 'a' ? a : b;
      const second = loader === 'a' ? b : a;
      expect((await readTier(first, id)).tier).toBe('source');
      expect((await readTier(second, id)).value).toEqual({ id, name: 'v1' });
      await fillMemory(a, id);
      await fillMemory(b, id);
      await fillMemory(c, id);
      const cLoads = c.items.loads;

      await invalidate(id);

      const started = performance.now();
      await waitFor(async () => (await a.items.get(id))?.name === 'v2', {
        timeoutMs: 1_000,
        message: `A to read the new value of item ${id}`,
      });
      const propagationMs = performance.now() - started;
      expect(propagationMs).toBeLessThan(1_000);
      expect(await b.items.get(id)).toEqual({ id, name: 'v2' });
      // Once fresh, the memory tier serves it again.
      await fillMemory(a, id);
      expect(await a.items.get(id)).toEqual({ id, name: 'v2' });

      const other = await readTier(c, id);
      expect(other).toEqual({ value: { id, name: 'v1' }, tier: 'memory' });
      expect(c.items.loads).toBe(cLoads);
    },
  );
});

describe('forged and foreign bus messages', () => {
  it('a message with a foreign prefix, foreign keys or garbage is ignored; a well-formed one is applied', async () => {
    const [kept, dropped] = [nextId++, nextId++];
    for (const id of [kept, dropped]) {
      db.set(id, { id, name: 'v1' });
      await b.items.get(id);
      await fillMemory(a, id);
    }
    const key = entryKey(a.app, 'item', kept);
    const forged = [
      { v: 1, p: OTHER_PREFIX, o: 'forger', keys: [key] },
      { v: 1, p: PREFIX, o: 'forger', keys: [entryKey(c.app, 'item', kept)] },
      { v: 1, p: PREFIX, o: 'forger', clear: `${OTHER_PREFIX}:` },
      { v: 2, p: PREFIX, o: 'forger', keys: [key] },
      { v: 1, p: PREFIX, keys: [key] },
    ];
    for (const msg of forged) await admin('PUBLISH', CHANNEL, JSON.stringify(msg));
    await admin('PUBLISH', CHANNEL, '{"v":1,"p":"bus","o":');
    await admin('PUBLISH', CHANNEL, 'null');
    // Same connection, so delivered after the forged ones: once it is applied, they have been seen.
    await admin(
      'PUBLISH',
      CHANNEL,
      JSON.stringify({ v: 1, p: PREFIX, o: 'tester', keys: [entryKey(a.app, 'item', dropped)] }),
    );
    await waitFor(async () => (await readTier(a, dropped)).tier !== 'memory', {
      timeoutMs: 1_000,
      message: 'the well-formed message to apply',
    });

    expect(await readTier(a, kept)).toEqual({ value: { id: kept, name: 'v1' }, tier: 'memory' });
  });

  it("a message carrying this app's prefix on another app's channel is ignored there", async () => {
    const [kept, dropped] = [nextId++, nextId++];
    for (const id of [kept, dropped]) {
      db.set(id, { id, name: 'v1' });
      await fillMemory(c, id);
    }
    const otherChannel = `${OTHER_PREFIX}:__bus`;
    await admin(
      'PUBLISH',
      otherChannel,
      JSON.stringify({ v: 1, p: PREFIX, o: 'forger', keys: [entryKey(c.app, 'item', kept)] }),
    );
    await admin(
      'PUBLISH',
      otherChannel,
      JSON.stringify({ v: 1, p: OTHER_PREFIX, o: 'tester', keys: [entryKey(c.app, 'item', dropped)] }),
    );
    await waitFor(async () => (await readTier(c, dropped)).tier !== 'memory', {
      timeoutMs: 1_000,
      message: 'the well-formed message to apply on C',
    });
    expect(await readTier(c, kept)).toEqual({ value: { id: kept, name: 'v1' }, tier: 'memory' });
  });
});

describe('subscriber dropped (CLIENT KILL TYPE pubsub)', () => {
  afterAll(async () => {
    if (requirepass !== undefined) await admin('CONFIG', 'SET', 'requirepass', '');
    requirepass = undefined;
  });

  it('A does not serve its memory tier while unsubscribed, and reads fresh after resubscribing', async () => {
    const id = nextId++;
    db.set(id, { id, name: 'v1' });
    await fillMemory(a, id);
    await fillMemory(b, id);
    expect(await subscribers(CHANNEL)).toBe(2);

    // New connections now fail to authenticate, so the killed subscribers stay down until the test lets them back.
    await admin('CONFIG', 'SET', 'requirepass', ADMIN_PASSWORD);
    requirepass = ADMIN_PASSWORD;
    await admin('CLIENT', 'KILL', 'TYPE', 'pubsub');
    expect(await subscribers(CHANNEL)).toBe(0);

    // B's main connection is still authenticated: its invalidation reaches Redis, its bus message reaches no one.
    db.set(id, { id, name: 'v2' });
    await b.cache.delete('item', id);
    expect(await subscribers(CHANNEL)).toBe(0);

    // While unsubscribed, A must not answer from its memory tier.
    await waitFor(async () => (await a.items.get(id))?.name === 'v2', {
      timeoutMs: 1_000,
      message: 'A to stop trusting its memory tier',
    });
    for (let i = 0; i < 5; i++) expect(await readTier(a, id)).toEqual({ value: { id, name: 'v2' }, tier: 'redis' });

    // A second change while still down: A's memory never held it, Redis does.
    db.set(id, { id, name: 'v3' });
    await b.cache.delete('item', id);
    expect(await a.items.get(id)).toEqual({ id, name: 'v3' });

    await admin('CONFIG', 'SET', 'requirepass', '');
    requirepass = undefined;
    const reopened = performance.now();
    await waitFor(async () => (await subscribers(CHANNEL)) === 2, {
      timeoutMs: 3_000,
      message: 'A and B to resubscribe',
    });
    const resubscribedMs = performance.now() - reopened;
    expect(await a.items.get(id)).toEqual({ id, name: 'v3' });
    await fillMemory(a, id);
    expect(resubscribedMs).toBeLessThan(3_000);

    // The bus works again end to end.
    db.set(id, { id, name: 'v4' });
    await b.cache.delete('item', id);
    await waitFor(async () => (await a.items.get(id))?.name === 'v4', {
      timeoutMs: 1_000,
      message: 'A to get the invalidation over the restored bus',
    });
  });

  it('after a plain CLIENT KILL TYPE pubsub, a change made meanwhile is never served stale', async () => {
    const id = nextId++;
    db.set(id, { id, name: 'v1' });
    await fillMemory(a, id);
    await admin('CLIENT', 'KILL', 'TYPE', 'pubsub');
    db.set(id, { id, name: 'v2' });
    await b.cache.delete('item', id);
    await waitFor(async () => (await subscribers(CHANNEL)) === 2, {
      timeoutMs: 3_000,
      message: 'A and B to resubscribe',
    });
    expect(await a.items.get(id)).toEqual({ id, name: 'v2' });
    await fillMemory(a, id);
    expect(await a.items.get(id)).toEqual({ id, name: 'v2' });
  });
});
