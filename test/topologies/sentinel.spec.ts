/**
 * Redis Sentinel (primary + 1 replica + 3 sentinels, quorum 2, down-after 1 s, failover-timeout 3 s) — basics and
 * drill 10 (failover): the primary SIGKILLed during a steady write + read + invalidate workload.
 * Bar: no error reaches a caller (every call returns the source's value); the cache resumes on the promoted replica
 * within a measured bound; invalidations made during the failover are not lost (after it, the cache agrees with the
 * source for every key); invalidations are not trusted to a single acknowledged DEL.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { Redis } from 'ioredis';
import { Cached, CacheEvents, CacheInvalidate, CachePut } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { decodeEntry, tombstoneId } from '../../libs/cache/src/codec/entry.codec.js';
import type { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { boot, cacheErrors, percentile, watchEscapes } from './support/app.js';
import type { Instance } from './support/app.js';
import { SentinelTopology } from './support/sentinel.js';

const PREFIX = 'senti';
type Account = { id: number; name: string; rev: number };

/** The source both instances read. */
const accounts = new Map<number, Account>();

@Injectable()
class Accounts {
  loads = 0;

  @Cached({ namespace: 'acct', key: (id: number) => id, tags: (id: number) => [`acct:${id}`] })
  async get(id: number): Promise<Account | null> {
    this.loads++;
    const row = accounts.get(id);
    return row ? { ...row } : null;
  }

  @CacheInvalidate({ namespace: 'acct', key: (id: number) => id })
  async rename(id: number, name: string): Promise<void> {
    bump(id, name);
  }

  @CachePut({ namespace: 'acct', key: (id: number) => id, tags: (id: number) => [`acct:${id}`] })
  async save(id: number, name: string): Promise<Account> {
    return bump(id, name);
  }
}

function bump(id: number, name: string): Account {
  const row = { id, name, rev: (accounts.get(id)?.rev ?? 0) + 1 };
  accounts.set(id, row);
  return { ...row };
}

function seed(n: number): void {
  accounts.clear();
  for (let id = 1; id <= n; id++) accounts.set(id, { id, name: `a${id}`, rev: 0 });
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const same = (x: unknown, y: unknown): boolean => JSON.stringify(x) === JSON.stringify(y);

const escapes = watchEscapes();
const figures: Record<string, unknown> = {};
afterAll(() => {
  escapes.stop();
  process.stdout.write(`sentinel figures: ${JSON.stringify(figures)}\n`);
});

const options = (topo: SentinelTopology): CacheModuleOptions => ({
  prefix: PREFIX,
  redis: { sentinels: topo.sentinelNodes, name: topo.name },
  memory: { maxEntries: 10_000 },
});

/** What a server holds for a key: 'absent', 'tombstone', or the decoded value. */
async function storedOn(server: RedisServer, key: string): Promise<'absent' | 'tombstone' | { value: unknown }> {
  const client = new Redis({
    port: server.port,
    host: server.host,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const bytes = await client.getBuffer(key);
    if (bytes === null) return 'absent';
    return tombstoneId(bytes) !== null ? 'tombstone' : { value: decodeEntry(bytes).value };
  } finally {
    client.disconnect();
  }
}

/** Times (performance.now()) at which an instance reported Redis down / up. */
function connectionLog(i: Instance<Accounts>): { down: number[]; up: number[] } {
  const log = { down: [] as number[], up: [] as number[] };
  const events = i.app.get(EventEmitter2);
  events.on(CacheEvents.backendDown, () => log.down.push(performance.now()));
  events.on(CacheEvents.backendUp, () => log.up.push(performance.now()));
  return log;
}

describe('Sentinel: cached reads/writes and a primary SIGKILLed under load (drill 10)', () => {
  let topo: SentinelTopology;
  let a: Instance<Accounts>;
  let b: Instance<Accounts>;

  beforeAll(async () => {
    const started = performance.now();
    topo = await SentinelTopology.start();
    figures.topologyStartMs = Math.round(performance.now() - started);
    a = await boot(options(topo), Accounts);
    b = await boot(options(topo), Accounts);
    await waitFor(() => a.engine.store.redisConnected && b.engine.store.redisConnected, {
      timeoutMs: 5_000,
      message: 'both instances connected',
    });
  }, 30_000);

  afterAll(async () => {
    await Promise.all([a, b].map((i) => i?.app.close()));
    await topo?.stop();
  });

  it('@Cached reads and @CachePut / @CacheInvalidate writes go to the primary (and replicate)', async () => {
    seed(300);
    const id = 1;
    const key = a.engine.space.entry('acct', id);
    const loads = a.service.loads;
    expect(await a.service.get(id)).toEqual(accounts.get(id));
    expect(await a.service.get(id)).toEqual(accounts.get(id));
    expect(a.service.loads).toBe(loads + 1);
    const bLoads = b.service.loads;
    expect(await b.service.get(id)).toEqual(accounts.get(id));
    expect(b.service.loads).toBe(bLoads);
    expect(await storedOn(topo.primary, key)).toEqual({ value: accounts.get(id) });
    await waitFor(async () => same(await storedOn(topo.replica, key), { value: accounts.get(id) }), {
      timeoutMs: 1_000,
      message: 'the entry on the replica',
    });

    const saved = await b.service.save(id, 'saved');
    expect(await storedOn(topo.primary, key)).toEqual({ value: saved });
    await b.service.rename(id, 'renamed');
    expect(await storedOn(topo.primary, key)).toBe('tombstone');
    await waitFor(async () => (await a.service.get(id))?.name === 'renamed', {
      timeoutMs: 1_000,
      message: 'A to see the rename',
    });
    expect(await b.cache.invalidateTags([`acct:${id}`])).toBeGreaterThanOrEqual(0);
    expect(cacheErrors(a.cache) + cacheErrors(b.cache)).toBe(0);
  });

  it('primary SIGKILLed during writes + reads + invalidations: no error surfaced, resumes on the promoted replica, no invalidation lost', async () => {
    seed(200);
    const ids = range(1, 200);
    for (const id of ids) await a.cache.delete('acct', id);
    for (const id of ids) await a.service.get(id);
    const aLog = connectionLog(a);
    const bLog = connectionLog(b);

    const surfaced: string[] = [];
    const stale: { id: number; line: string; fromMemory: boolean }[] = [];
    const latencies: number[] = [];
    /** Keys whose live entry their tag set no longer lists: the write-through vs tag-invalidation race (pinned below). */
    const untagged = new Set<number>();
    const indexed = async (id: number): Promise<boolean> => {
      const key = a.engine.space.entry('acct', id);
      const member = await topo.primary.command('SISMEMBER', a.engine.space.tag(`acct:${id}`), key).catch(() => 1);
      const state = await storedOn(topo.primary, key).catch(() => 'absent' as const);
      return Number(member) === 1 || typeof state !== 'object';
    };
    let killedAt = Infinity;
    let maxPending = 0;
    let calls = 0;
    let stop = false;
    // 8 workers on A, each owning its ids: a read after its own write must return exactly the source's value.
    const workers = Array.from({ length: 8 }, async (_, w) => {
      const mine = ids.filter((id) => id % 8 === w);
      let i = 0;
      while (!stop) {
        const id = mine[i++ % mine.length]!;
        const op = i % 4;
        const started = performance.now();
        try {
          if (op === 0) await a.service.rename(id, `w${w}-${i}`);
          else if (op === 1) await a.service.save(id, `w${w}-${i}`);
          else if (op === 2) {
            bump(id, `w${w}-${i}`);
            await a.cache.invalidateTags([`acct:${id}`]);
          }
          const got = await a.service.get(id);
          if (!same(got, accounts.get(id))) {
            const fromMemory = same(a.engine.store.memory?.peek(a.engine.space.entry('acct', id))?.value, got);
            if (!fromMemory && !(await indexed(id))) untagged.add(id);
            stale.push({
              id,
              fromMemory,
              line: `${id}@${Math.round(performance.now() - killedAt)}ms op${op} ${fromMemory ? 'memory' : 'redis'} breaker=${a.cache.stats().breaker}`,
            });
          }
        } catch (err) {
          surfaced.push(`${id} op${op}: ${(err as Error).message}`);
        }
        latencies.push(performance.now() - started);
        maxPending = Math.max(maxPending, a.cache.stats().pendingInvalidations);
        calls++;
        await new Promise((r) => setTimeout(r, 2));
      }
    });
    // B keeps reading (its memory tier and Redis must not serve what A invalidated).
    const reader = (async () => {
      while (!stop) {
        for (const id of ids.slice(0, 40)) {
          try {
            await b.service.get(id);
          } catch (err) {
            surfaced.push(`B ${id}: ${(err as Error).message}`);
          }
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    await waitFor(() => calls >= 100, { timeoutMs: 5_000, message: 'the workload to run before the kill' });
    const oldPrimary = topo.primary;
    killedAt = performance.now();
    const timing = await topo.killPrimaryAndAwaitFailover();
    killedAt = timing.killedAt;
    const promoted = topo.primary;
    expect(promoted).not.toBe(oldPrimary);
    // Resumed: a write-through of A lands on the promoted replica.
    const probe = ids[0]!;
    await waitFor(
      async () => {
        const saved = await a.service.save(probe, `probe-${Math.round(performance.now())}`);
        return same(await storedOn(promoted, a.engine.space.entry('acct', probe)), { value: saved });
      },
      { timeoutMs: 15_000, intervalMs: 20, message: 'A to write to the promoted replica' },
    );
    const resumedMs = performance.now() - killedAt;
    // The workload goes on past the resume: reads after the failover must agree with the source too.
    const callsAtResume = calls;
    await waitFor(() => calls >= callsAtResume + 200, {
      timeoutMs: 10_000,
      message: 'the workload to go on after the resume',
    });
    stop = true;
    await Promise.all([...workers, reader]);

    const upAfter = (log: { up: number[] }): number | null => {
      const t = log.up.find((x) => x > killedAt);
      return t === undefined ? null : Math.round(t - killedAt);
    };
    const failover: Record<string, unknown> = {
      sentinelsSwitchedMs: Math.round(timing.allSentinelsMs),
      replicaPromotedMs: Math.round(timing.promotedMs),
      cacheWritesLandAfterKillMs: Math.round(resumedMs),
      aBackendUpAfterKillMs: upAfter(aLog),
      bBackendUpAfterKillMs: upAfter(bLog),
      calls,
      p50Ms: Math.round(percentile(latencies, 50)),
      p99Ms: Math.round(percentile(latencies, 99)),
      maxMs: Math.round(Math.max(...latencies)),
      cacheErrorsCounted: cacheErrors(a.cache),
      maxPendingInvalidations: maxPending,
      // Stale reads A served from its own memory tier (an invalidation that did not reach it).
      staleReadsFromOwnMemoryTier: stale.filter((x) => x.fromMemory).length,
      staleReadsOther: stale.filter((x) => !x.fromMemory).map((x) => x.line),
    };
    figures.failover = failover;

    expect(surfaced).toEqual([]);
    expect(escapes.escaped).toEqual([]);
    expect(stale.filter((x) => !x.fromMemory && !untagged.has(x.id)).map((x) => x.line)).toEqual([]);
    // The cache writes to the new primary by itself (figure: cacheWritesLandAfterKillMs, ~0.4 s after the sentinels'
    // switch on an idle machine). A generous bound only: a loaded 2-core machine took 2.5 s.
    expect(resumedMs - timing.allSentinelsMs).toBeLessThan(10_000);

    // After the failover, Redis (new primary), A and B agree with the source for every key written or invalidated.
    await waitFor(() => a.cache.stats().pendingInvalidations === 0, {
      timeoutMs: 5_000,
      message: "A's replay queue to drain",
    });
    const disagree: { id: number; line: string }[] = [];
    for (const id of ids) {
      const state = await storedOn(promoted, a.engine.space.entry('acct', id));
      if (typeof state === 'object' && !same(state.value, accounts.get(id)))
        disagree.push({ id, line: `redis ${id}: ${JSON.stringify(state.value)}` });
      for (const [name, i] of [
        ['A', a],
        ['B', b],
      ] as const) {
        const got = await i.service.get(id);
        if (!same(got, accounts.get(id))) disagree.push({ id, line: `${name} ${id}: ${JSON.stringify(got)}` });
      }
    }
    for (const id of ids) if (!(await indexed(id))) untagged.add(id);
    failover.untaggedLiveEntries = [...untagged];
    // Keys hit by the write-through vs tag-invalidation race (pinned below) are reported in the figures, not failed here.
    expect(disagree.filter((d) => !untagged.has(d.id)).map((d) => d.line)).toEqual([]);

    // The bus works again (both subscribers resubscribed on the promoted replica): B drops what A invalidates.
    const id = ids[ids.length - 1]!;
    const key = b.engine.space.entry('acct', id);
    await waitFor(async () => (await b.service.get(id)) !== undefined && b.engine.store.peek(key) !== undefined, {
      timeoutMs: 2_000,
      message: "the entry in B's memory tier",
    });
    await a.service.rename(id, 'after-failover');
    await waitFor(async () => (await b.service.get(id))?.name === 'after-failover', {
      timeoutMs: 1_000,
      message: 'B to drop its copy via the bus',
    });
  }, 45_000);
});

describe('Sentinel: an invalidation the primary acknowledged but never replicated (drill 10: not trusted to one DEL)', () => {
  let topo: SentinelTopology;
  let a: Instance<Accounts>;

  beforeAll(async () => {
    topo = await SentinelTopology.start();
    a = await boot(options(topo), Accounts);
    await waitFor(() => a.engine.store.redisConnected, { timeoutMs: 5_000, message: 'A connected' });
  }, 30_000);

  afterAll(async () => {
    await a?.app.close();
    await topo?.stop();
  });

  it('a write-through racing a tag invalidation stays reachable by later invalidations of its tag', async () => {
    seed(10);
    const id = 5;
    const key = a.engine.space.entry('acct', id);
    const b = await boot(options(topo), Accounts);
    const client = a.engine.store.redis as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const original = client.tcSetFresh!;
    let release = (): void => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let held = (): void => undefined;
    const reached = new Promise<void>((r) => (held = r));
    client.tcSetFresh = async (...args: unknown[]) => {
      held();
      await gate;
      return original.apply(client, args);
    };
    try {
      const saving = a.service.save(id, 'saved');
      await reached; // TAG_ADD done, SET not sent yet
      await b.cache.invalidateTags([`acct:${id}`]);
      release();
      await saving;
    } finally {
      client.tcSetFresh = original;
    }
    expect(await storedOn(topo.primary, key)).toEqual({ value: accounts.get(id) });

    bump(id, 'changed-later');
    await b.cache.invalidateTags([`acct:${id}`]);
    const seen = { redis: await storedOn(topo.primary, key), b: await b.service.get(id) };
    await b.app.close();
    expect(seen.b).toEqual(accounts.get(id));
  });

  it('a tag invalidation that fails after taking the tag set is replayed completely', async () => {
    seed(10);
    const id = 3;
    const key = a.engine.space.entry('acct', id);
    await a.service.get(id);
    expect(await storedOn(topo.primary, key)).toEqual({ value: accounts.get(id) });

    bump(id, 'renamed-by-tag');
    await topo.primary.command('ACL', 'SETUSER', 'default', '-set');
    try {
      await a.cache.invalidateTags([`acct:${id}`]);
    } finally {
      await topo.primary.command('ACL', 'SETUSER', 'default', '+set');
    }
    expect(a.cache.stats().pendingInvalidations).toBe(1);
    // Any successful operation closes the loop and replays the queued tag.
    await a.service.get(9);
    await waitFor(() => a.cache.stats().pendingInvalidations === 0, { timeoutMs: 3_000, message: 'the replay' });
    await waitFor(async () => typeof (await storedOn(topo.primary, key)) !== 'object', {
      timeoutMs: 3_000,
      message: 'the replayed tag to remove the entry from Redis',
    });

    figures.tagReplayRedisHolds = await storedOn(topo.primary, key);
    expect(await a.service.get(id)).toEqual(accounts.get(id));
  });

  it('a tombstone acknowledged by the dying primary is re-applied on the promoted replica', async () => {
    seed(10);
    const id = 7;
    const key = a.engine.space.entry('acct', id);
    await a.service.get(id);
    await waitFor(async () => same(await storedOn(topo.replica, key), { value: accounts.get(id) }), {
      timeoutMs: 2_000,
      message: 'the entry on the replica',
    });

    // Replication now goes through a proxy that the test black-holes: the primary acknowledges, the replica never hears.
    const proxy = await topo.replicateThroughProxy();
    proxy.blackhole();
    await a.service.rename(id, 'renamed-before-failover');
    expect(await storedOn(topo.primary, key)).toBe('tombstone');
    expect(a.cache.stats().pendingInvalidations).toBe(0);
    const offsets = await topo.offsets();
    expect(offsets.replica).toBeLessThan(offsets.primary);

    const timing = await topo.killPrimaryAndAwaitFailover();
    figures.lostAckFailoverMs = Math.round(timing.allSentinelsMs);
    await waitFor(
      async () => same(await a.service.save(1, 'probe'), accounts.get(1)) && a.engine.store.redisConnected,
      {
        timeoutMs: 10_000,
        message: 'A on the new primary',
      },
    );
    // A save that ran while the connection was still down was refused and queued an invalidation, so
    // it is the next saves that must land: each poll saves again.
    await waitFor(
      async () => {
        await a.service.save(1, 'probe');
        return typeof (await storedOn(topo.primary, a.engine.space.entry('acct', 1))) === 'object';
      },
      { timeoutMs: 10_000, message: 'A writing to the new primary' },
    );

    // The old entry survived on the promoted replica; the cache must not serve it.
    figures.lostAckPromotedReplicaHolds = await storedOn(topo.primary, key);
    expect(await a.service.get(id)).toEqual(accounts.get(id));
  }, 40_000);
});
