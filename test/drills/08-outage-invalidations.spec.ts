// Drill 8 — invalidations during an outage: writes made on instance A while Redis is unreachable are not lost;
// after recovery every instance's memory tier and Redis agree with the database (replay queue + bus).
// Redis runs with AOF (appendfsync always), so a SIGKILLed server comes back *with* the old entries: only the
// replay can remove them. A second scenario partitions A alone (TCP proxy drop) while B keeps serving.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { Redis } from 'ioredis';
import { Cached, CacheEvents, CacheInvalidate, CachePut, CacheService, composeKey } from 'nestjs-tiercache';
import type { CacheInvalidatedEvent } from 'nestjs-tiercache';
import { decodeEntry, tombstoneId } from '../../libs/cache/src/codec/entry.codec.js';
import { bootCache } from '../cache/fixtures.js';
import { RedisServer } from '../harness/redis-server.js';
import { TcpProxy } from '../harness/tcp-proxy.js';
import { waitFor } from '../harness/wait-for.js';
import { reportDrill } from './support/processes.js';
import { engineOf } from '../support/cache-internals.js';
import type { CacheEngine } from '../support/cache-internals.js';

// Real servers, processes and fault injection: slower than a unit test, especially on a loaded machine.
jest.setTimeout(60_000);

const PREFIX = 'drill08';
type Account = { id: number; name: string; rev: number };

/** The database both instances read. */
const accounts = new Map<number, Account>();
const prefs = new Map<number, string>();
const stats = new Map<string, number>();

@Injectable()
class Accounts {
  loads = 0;

  @Cached({ namespace: 'acct', key: (id: number) => id, tags: (id: number) => [`acct:${id}`] })
  async get(id: number): Promise<Account | null> {
    this.loads++;
    const row = accounts.get(id);
    return row ? { ...row } : null;
  }

  @Cached({ namespace: 'acct-list' })
  async list(): Promise<string[]> {
    this.loads++;
    return [...accounts.values()].map((a) => `${a.id}:${a.name}:${a.rev}`);
  }

  @Cached({
    namespace: 'prefs',
    key: (id: number) => id,
    invalidateOn: {
      'prefs.bulk-changed': () => {
        throw new Error('a bulk change cannot name its keys');
      },
    },
  })
  async prefs(id: number): Promise<string | null> {
    this.loads++;
    return prefs.get(id) ?? null;
  }

  @CacheInvalidate({ namespace: 'acct', key: (id: number) => id })
  @CacheInvalidate({ namespace: 'acct-list', all: true })
  async rename(id: number, name: string): Promise<void> {
    bump(id, name);
  }

  @CachePut({ namespace: 'acct', key: (id: number) => id })
  @CacheInvalidate({ namespace: 'acct-list', all: true })
  async save(id: number, name: string): Promise<Account> {
    return bump(id, name);
  }
}

function bump(id: number, name: string): Account {
  const row = { id, name, rev: (accounts.get(id)?.rev ?? 0) + 1 };
  accounts.set(id, row);
  return row;
}

interface Instance {
  name: string;
  app: INestApplicationContext;
  accounts: Accounts;
  cache: CacheService;
  engine: CacheEngine;
  events: EventEmitter2;
}

let redis: RedisServer;
let proxy: TcpProxy;
let raw: Redis;
let a: Instance;
let b: Instance;
const figures: Record<string, unknown> = {};

async function boot(name: string, url: string): Promise<Instance> {
  // The breaker never opens here: every operation reaches Redis (or fails at once while it is unreachable), so the
  // replay and the bus are what is tested, not the breaker (drills 1-3).
  const app = await bootCache(
    {
      prefix: PREFIX,
      redis: url,
      memory: { maxEntries: 1000 },
      commandTimeout: 150,
      breaker: { threshold: 1_000_000 },
    },
    [Accounts],
  );
  return {
    name,
    app,
    accounts: app.get(Accounts),
    cache: app.get(CacheService),
    engine: engineOf(app),
    events: app.get(EventEmitter2),
  };
}

/** Everything that is cached, with what the database says it should be. */
function checks(): {
  namespace: string;
  key: unknown;
  expected: () => unknown;
  read: (i: Instance) => Promise<unknown>;
}[] {
  return [
    ...[1, 2, 3, 4, 5, 6, 7, 8].map((id) => ({
      namespace: 'acct',
      key: id,
      expected: () => accounts.get(id) ?? null,
      read: (i: Instance) => i.accounts.get(id),
    })),
    {
      namespace: 'acct-list',
      key: [],
      expected: () => [...accounts.values()].map((x) => `${x.id}:${x.name}:${x.rev}`),
      read: (i: Instance) => i.accounts.list(),
    },
    ...[1, 2, 3].map((id) => ({
      namespace: 'prefs',
      key: id,
      expected: () => prefs.get(id) ?? null,
      read: (i: Instance) => i.accounts.prefs(id),
    })),
    ...['5:mon', '5:tue', '6:mon'].map((s) => {
      const [user, day] = s.split(':') as [string, string];
      const key = composeKey(Number(user), day);
      return {
        namespace: 'stats',
        key,
        expected: () => stats.get(s) ?? 0,
        read: (i: Instance) => i.cache.getOrSet('stats', key, () => stats.get(s) ?? 0),
      };
    }),
  ];
}

/** The full key of a check: decorators with default keys encode the argument list (none for `list()`). */
function fullKeyOf(c: { namespace: string; key: unknown }): string {
  return c.namespace === 'acct-list' ? a.engine.space.call(c.namespace, []) : a.engine.space.entry(c.namespace, c.key);
}

/** Disagreements between the database and Redis / each memory tier / what callers of each instance get. */
async function disagreements(): Promise<string[]> {
  const out: string[] = [];
  for (const c of checks()) {
    const k = fullKeyOf(c);
    const want = JSON.stringify(c.expected());
    const bytes = await raw.getBuffer(k);
    if (bytes !== null && tombstoneId(bytes) === null) {
      const got = JSON.stringify(decodeEntry(bytes).value);
      if (got !== want) out.push(`redis ${k}: ${got} ≠ db ${want}`);
    }
    for (const i of [a, b]) {
      const entry = i.engine.store.memory?.peek(k);
      if (entry !== undefined && JSON.stringify(entry.value) !== want)
        out.push(`${i.name} memory ${k}: ${JSON.stringify(entry.value)} ≠ db ${want}`);
      // Twice: the second read comes from the memory tier the first one filled.
      for (const n of [1, 2]) {
        const got = JSON.stringify(await c.read(i));
        if (got !== want) out.push(`${i.name} read#${n} ${k}: ${got} ≠ db ${want}`);
      }
    }
  }
  return out;
}

function seed(): void {
  accounts.clear();
  for (let id = 1; id <= 8; id++) accounts.set(id, { id, name: `user${id}`, rev: 0 });
  for (const id of [1, 2, 3]) prefs.set(id, `dark-${id}`);
  for (const s of ['5:mon', '5:tue', '6:mon']) stats.set(s, 10);
}

/** Fills every entry into Redis and into both memory tiers. */
async function warmAll(): Promise<void> {
  for (const i of [a, b]) {
    await waitFor(
      async () => {
        const before = i.cache.stats().namespaces['acct']?.memoryHits ?? 0;
        for (const c of checks()) await c.read(i);
        await i.accounts.get(1);
        return (i.cache.stats().namespaces['acct']?.memoryHits ?? 0) > before;
      },
      { timeoutMs: 10_000, message: `${i.name}'s memory tier to fill` },
    );
  }
  for (const c of checks()) expect(await raw.exists(fullKeyOf(c))).toBe(1);
}

/** The writes of the drill, each through another invalidation path; all must succeed (fail open). */
async function writeDuringOutage(i: Instance, round: number): Promise<void> {
  await i.accounts.rename(1, `renamed-${round}`);
  await i.accounts.save(2, `saved-${round}`);
  bump(3, `deleted-${round}`);
  await i.cache.delete('acct', 3);
  bump(4, `tagged-${round}`);
  await i.cache.invalidateTags(['acct:4']);
  accounts.set(6, { ...(accounts.get(6) as Account), rev: 100 + round });
  await i.cache.update<Account>('acct', 6, (cur) => ({ ...cur, rev: 100 + round }));
  for (const id of [1, 2, 3]) prefs.set(id, `light-${round}-${id}`);
  await i.events.emitAsync('prefs.bulk-changed', {});
  stats.set('5:mon', 20 + round);
  stats.set('5:tue', 30 + round);
  await i.cache.invalidatePrefix('stats', [5]);
}

let markers = 0;
/** Resolves once `to` has applied everything `from` published so far (retried until both are subscribed). */
async function drainBus(from: Instance, to: Instance): Promise<void> {
  await waitFor(
    async () => {
      const full = from.engine.space.entry('bus-marker', ++markers);
      const seen = new Promise<boolean>((resolve) => {
        const listener = (e: CacheInvalidatedEvent): void => {
          if (e.origin === 'remote' && e.keys?.includes(full)) {
            to.events.off(CacheEvents.invalidated, listener);
            resolve(true);
          }
        };
        to.events.on(CacheEvents.invalidated, listener);
        setTimeout(() => {
          to.events.off(CacheEvents.invalidated, listener);
          resolve(false);
        }, 300).unref();
      });
      await from.engine.invalidator.keys('bus-marker', [full]);
      return seen;
    },
    { timeoutMs: 10_000, message: `bus ${from.name} → ${to.name}` },
  );
}

async function recover(what: string): Promise<number> {
  const started = performance.now();
  await waitFor(
    () =>
      a.cache.stats().redisConnected === true &&
      b.cache.stats().redisConnected === true &&
      a.cache.stats().pendingInvalidations === 0,
    {
      timeoutMs: 10_000,
      message: `${what}: both instances reconnected and A's replay queue empty`,
    },
  ).catch((err: Error) => {
    const state = [a, b].map((i) => {
      const s = i.cache.stats();
      return {
        name: i.name,
        connected: s.redisConnected,
        breaker: s.breaker,
        pending: s.pendingInvalidations,
        errors: s.namespaces['acct']?.errors,
      };
    });
    throw new Error(`${err.message}; state: ${JSON.stringify(state)}`);
  });
  await drainBus(a, b);
  await drainBus(b, a);
  return Math.round(performance.now() - started);
}

beforeAll(async () => {
  redis = await RedisServer.start({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  proxy = await TcpProxy.start(redis.port);
  raw = new Redis({
    port: redis.port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    disconnectTimeout: 0,
    retryStrategy: () => 50,
  });
  raw.on('error', () => undefined);
  await raw.connect();
  // A reaches Redis through the proxy (so it can be partitioned alone); B connects directly.
  a = await boot('A', `redis://127.0.0.1:${proxy.port}`);
  b = await boot('B', redis.url);
});

afterAll(async () => {
  await a?.app.close();
  await b?.app.close();
  raw?.disconnect();
  await proxy?.close();
  await redis?.stop();
  reportDrill('08', figures, `outage invalidations: ${JSON.stringify(figures)}`);
});

describe('drill 08: invalidations during an outage are replayed', () => {
  it("Redis SIGKILLed (and restarted with its old data): A's writes are not lost", async () => {
    seed();
    await warmAll();
    await redis.kill();
    await waitFor(() => a.cache.stats().redisConnected === false && b.cache.stats().redisConnected === false, {
      timeoutMs: 5_000,
      message: 'both instances to see Redis down',
    });

    const started = performance.now();
    await expect(writeDuringOutage(a, 1)).resolves.toBeUndefined();
    const writeMs = Math.round(performance.now() - started);
    const pending = a.cache.stats().pendingInvalidations;
    expect(pending).toBeGreaterThan(0);
    // While Redis is down, both instances answer from the source: the new values.
    expect((await a.accounts.get(1))?.name).toBe('renamed-1');
    expect((await b.accounts.get(2))?.name).toBe('saved-1');

    await redis.restart();
    // The AOF brought the old entries back: an untouched one proves it (the invalidated ones are replayed away).
    await waitFor(async () => (await raw.exists(a.engine.space.entry('acct', 8))) === 1, {
      timeoutMs: 5_000,
      message: 'Redis back with its data',
    });
    const recoveryMs = await recover('after SIGKILL');
    expect(await disagreements()).toEqual([]);
    figures['kill'] = { pendingInvalidations: pending, writeMs, recoveryMs, disagreements: 0 };
  });

  it('A alone partitioned (B and Redis up, B serving from its memory tier): after the partition heals all agree', async () => {
    seed();
    // Start from a clean slate of the previous scenario's entries, then warm again.
    for (const ns of ['acct', 'acct-list', 'prefs', 'stats']) await b.cache.clearNamespace(ns);
    await drainBus(b, a);
    await warmAll();
    proxy.drop();
    await waitFor(() => a.cache.stats().redisConnected === false, { timeoutMs: 5_000, message: 'A to see Redis down' });

    await expect(writeDuringOutage(a, 2)).resolves.toBeUndefined();
    const pending = a.cache.stats().pendingInvalidations;
    expect(pending).toBeGreaterThan(0);
    // B cannot know yet: its memory tier and Redis still hold the old rows (this is what the replay must fix).
    const staleDuringPartition = (await disagreements()).filter((d) => d.startsWith('B ')).length;

    proxy.restore();
    const recoveryMs = await recover('after the partition');
    expect(await disagreements()).toEqual([]);
    figures['partition'] = {
      pendingInvalidations: pending,
      staleOnBDuringPartition: staleDuringPartition,
      recoveryMs,
      disagreements: 0,
    };
  });

  it('the replay itself times out (writes paused as A reconnects): it is retried, and A serves no stale row meanwhile', async () => {
    seed();
    for (const ns of ['acct', 'acct-list', 'prefs', 'stats']) await b.cache.clearNamespace(ns);
    await drainBus(b, a);
    await warmAll();
    proxy.drop();
    await waitFor(() => a.cache.stats().redisConnected === false, { timeoutMs: 5_000, message: 'A to see Redis down' });
    await expect(writeDuringOutage(a, 3)).resolves.toBeUndefined();

    // Reads still answer, writes (the replay's tombstones and UNLINKs) hang past the command timeout.
    await raw.call('CLIENT', 'PAUSE', '2500', 'WRITE');
    const paused = performance.now();
    proxy.restore();
    await waitFor(() => a.cache.stats().redisConnected === true, { timeoutMs: 5_000, message: 'A to reconnect' });
    // While the queued invalidations wait for their retry, A must not read the rows Redis still holds.
    let staleReadsWhilePending = 0;
    let readsWhilePending = 0;
    while (performance.now() - paused < 2_000) {
      const row = await a.accounts.get(1);
      readsWhilePending++;
      if (row?.name !== accounts.get(1)?.name) staleReadsWhilePending++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    // The replay could not finish while writes were paused: still pending, not lost.
    const pendingWhilePaused = a.cache.stats().pendingInvalidations;
    expect(pendingWhilePaused).toBeGreaterThan(0);
    const recoveryMs = await recover('after a failed replay');
    expect(staleReadsWhilePending).toBe(0);
    expect(await disagreements()).toEqual([]);
    figures['replayTimedOut'] = {
      pendingWhilePaused,
      readsWhilePending,
      staleReadsWhilePending,
      recoveryMs,
      disagreements: 0,
    };
  });
});
