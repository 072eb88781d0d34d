// Drill 6 — read-miss vs write race: a loader paused after its DB read while a writer commits and invalidates;
// after both finish no tier (memory tier of either instance, Redis) holds the old value. fast-check's scheduler
// picks the interleaving of every gate (reader start, DB read, loader return, writer start, commit, invalidation)
// for hundreds of keys at once, with random I/O ticks between the steps, against the real CacheService on real Redis.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { Cached, CacheEvents, CacheInvalidate, CachePut, CacheService } from 'nestjs-tiercache';
import type { CacheInvalidatedEvent } from 'nestjs-tiercache';
import { decodeEntry, tombstoneId } from '../../libs/cache/src/codec/entry.codec.js';
import { bootCache } from '../cache/fixtures.js';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { withTimeout } from '../harness/with-timeout.js';
import { reportDrill } from './support/processes.js';
import { engineOf } from '../support/cache-internals.js';
import type { CacheEngine } from '../support/cache-internals.js';

// Real servers, processes and fault injection: slower than a unit test, especially on a loaded machine.
jest.setTimeout(60_000);

const PREFIX = 'drill06';
const NS = 'race';
/** Keys raced concurrently in one fast-check run, and runs: KEYS_PER_RUN × RUNS interleavings. */
const KEYS_PER_RUN = 500;
const RUNS = 21;
/** Extra runs that also read right after each write (read-your-writes). */
const READ_AFTER_WRITE_RUNS = 4;

type Row = { id: string; v: number };

/** The controllable fake database every instance reads. */
const db = new Map<string, Row>();

/** Per key: the scheduler gates and the log of what happened, in order. */
interface Probe {
  gate(label: string): Promise<void>;
  log(event: string): void;
}
const probes = new Map<string, Probe>();

function commit(id: string): Row {
  const row = { id, v: (db.get(id)?.v ?? 0) + 1 };
  db.set(id, row);
  probes.get(id)?.log('commit');
  return row;
}

@Injectable()
class RaceRepo {
  @Cached({ namespace: NS, key: (id: string) => id, ttl: '5m' })
  async get(id: string): Promise<Row | null> {
    const probe = probes.get(id);
    await probe?.gate('load:before-read');
    const row = db.get(id);
    probe?.log(`read:v${row?.v ?? 'none'}`);
    // The loader is paused after its DB read: the writer may commit and invalidate meanwhile.
    await probe?.gate('load:after-read');
    probe?.log('load:return');
    return row ? { ...row } : null;
  }

  @CacheInvalidate({ namespace: NS, key: (id: string) => id })
  async update(id: string): Promise<void> {
    await this.commitOnly(id);
  }

  @CachePut({ namespace: NS, key: (id: string) => id })
  async save(id: string): Promise<Row> {
    return this.commitOnly(id);
  }

  async commitOnly(id: string): Promise<Row> {
    const probe = probes.get(id);
    await probe?.gate('write:before-commit');
    const row = commit(id);
    await probe?.gate('write:after-commit');
    return row;
  }
}

interface Instance {
  name: string;
  app: INestApplicationContext;
  repo: RaceRepo;
  cache: CacheService;
  engine: CacheEngine;
  events: EventEmitter2;
}

type Style = 'invalidate-decorator' | 'delete-imperative' | 'put-decorator';

interface Trial {
  readerOn: 0 | 1;
  writerOn: 0 | 1;
  style: Style;
  /** The old value is cached in every tier before the race (else the key is cold). */
  warm: boolean;
  /** A second reader on the other instance. */
  secondReader: boolean;
  /** setImmediate ticks after each gate opens, so Redis I/O lands between the steps. */
  ticks: number[];
}

const trialArb: fc.Arbitrary<Trial> = fc.record({
  readerOn: fc.constantFrom<0 | 1>(0, 1),
  writerOn: fc.constantFrom<0 | 1>(0, 1),
  style: fc.constantFrom<Style>('invalidate-decorator', 'delete-imperative', 'put-decorator'),
  warm: fc.nat({ max: 3 }).map((n) => n === 0),
  secondReader: fc.boolean(),
  ticks: fc.array(fc.nat({ max: 3 }), { minLength: 12, maxLength: 12 }),
});

let redis: RedisServer;
let raw: Redis;
let instances: [Instance, Instance];

async function boot(name: string): Promise<Instance> {
  // A generous command timeout: the scheduler's microtask spins delay I/O callbacks, and this drill is about the
  // race, not about timeouts (fail-open paths are drills 1-3).
  const app = await bootCache(
    { prefix: PREFIX, redis: redis.url, memory: { maxEntries: 50_000 }, commandTimeout: '2s' },
    [RaceRepo],
  );
  return {
    name,
    app,
    repo: app.get(RaceRepo),
    cache: app.get(CacheService),
    engine: engineOf(app),
    events: app.get(EventEmitter2),
  };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

let markers = 0;
/** Resolves once every bus message `from` published so far has been applied by `to` (pub/sub keeps per-publisher order). */
async function drainBus(from: Instance, to: Instance): Promise<void> {
  const marker = `__marker-${++markers}`;
  const full = from.engine.space.entry(NS, marker);
  const seen = new Promise<void>((resolve) => {
    const listener = (e: CacheInvalidatedEvent): void => {
      if (e.origin === 'remote' && e.keys?.includes(full)) {
        to.events.off(CacheEvents.invalidated, listener);
        resolve();
      }
    };
    to.events.on(CacheEvents.invalidated, listener);
  });
  await from.cache.delete(NS, marker);
  await withTimeout(seen, 5_000, `bus marker ${from.name} → ${to.name}`);
}

/** What each tier holds for a key: the value's version, 'absent' (or tombstone). */
async function tiers(
  id: string,
): Promise<{ redis: number | 'absent'; memory: [number | 'absent', number | 'absent'] }> {
  const k = instances[0].engine.space.entry(NS, id);
  const bytes = await raw.getBuffer(k);
  let redisV: number | 'absent' = 'absent';
  if (bytes !== null && tombstoneId(bytes) === null) redisV = (decodeEntry(bytes).value as Row).v;
  const mem = instances.map((i) => {
    const entry = i.engine.store.memory?.peek<Row>(k);
    return entry === undefined ? 'absent' : entry.value.v;
  }) as [number | 'absent', number | 'absent'];
  return { redis: redisV, memory: mem };
}

const figures = {
  interleavings: 0,
  distinctOrders: new Set<string>(),
  /** Trials whose loader read the old row before the commit and returned after the invalidation finished. */
  pausedAcrossInvalidation: 0,
  /** Trials whose loader read the old row before the commit and returned after it (the race window). */
  oldReadReturnedAfterCommit: 0,
  staleTiers: 0,
  staleReads: 0,
  /** Reads started after the writer's invalidation returned that still saw the old row. */
  staleReadsAfterWrite: 0,
  /** Cache operations that failed (timed out under load) and were answered from the source / queued for replay. */
  backendErrors: 0,
  ms: 0,
};

beforeAll(async () => {
  redis = await RedisServer.start();
  raw = new Redis({ port: redis.port, lazyConnect: true, maxRetriesPerRequest: 0, disconnectTimeout: 0 });
  raw.on('error', () => undefined);
  await raw.connect();
  instances = [await boot('A'), await boot('B')];
  // The memory tier serves only while the bus is subscribed: wait until both instances hit memory.
  db.set('__warmup', { id: '__warmup', v: 0 });
  for (const i of instances) {
    await waitFor(
      async () => {
        const before = i.cache.stats().namespaces[NS]?.memoryHits ?? 0;
        await i.repo.get('__warmup');
        return (i.cache.stats().namespaces[NS]?.memoryHits ?? 0) > before;
      },
      { timeoutMs: 5_000, message: `${i.name}'s memory tier to be trusted` },
    );
  }
});

afterAll(async () => {
  await Promise.all(instances?.map((i) => i.app.close()) ?? []);
  await raw?.quit();
  await redis?.stop();
  const { distinctOrders, ...rest } = figures;
  const out = { ...rest, distinctOrders: distinctOrders.size, keysPerRun: KEYS_PER_RUN, runs };
  reportDrill(
    '06',
    out,
    `read/write race: ${out.interleavings} interleavings (${out.distinctOrders} distinct step orders, ${out.pausedAcrossInvalidation} loaders paused across a whole invalidation) in ${out.ms} ms; stale tiers ${out.staleTiers}, stale reads ${out.staleReads}, stale reads after a write ${out.staleReadsAfterWrite}`,
  );
});

let runs = 0;

/**
 * Runs `numRuns` fast-check runs of KEYS_PER_RUN concurrent trials each. With `readAfterWrite`, the writer also
 * reads the key as soon as its write returned, and that read must not see the old row.
 */
async function race(numRuns: number, readAfterWrite: boolean): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.array(trialArb, { minLength: KEYS_PER_RUN, maxLength: KEYS_PER_RUN }),
      async (s, trials) => {
        const run = ++runs;
        const ids = trials.map((_, i) => `r${run}-${i}`);
        for (const id of ids) db.set(id, { id, v: 0 });
        // Warm trials: the old row sits in Redis and in both memory tiers before the race starts.
        await Promise.all(
          trials.map(async (t, i) => {
            if (!t.warm) return;
            const id = ids[i] as string;
            await instances[0].repo.get(id);
            await instances[1].repo.get(id);
          }),
        );

        const logs = ids.map(() => [] as string[]);
        const staleAfterWrite: string[] = [];
        const tasks: Promise<unknown>[] = [];
        trials.forEach((t, i) => {
          const id = ids[i] as string;
          const log = logs[i] as string[];
          let next = 0;
          const probe: Probe = {
            gate: async (label) => {
              await s.schedule(Promise.resolve(), `${id} ${label}`);
              for (let n = t.ticks[next++ % t.ticks.length] ?? 0; n > 0; n--) await tick();
            },
            log: (event) => log.push(event),
          };
          probes.set(id, probe);
          const reader = instances[t.readerOn];
          const other = instances[1 - t.readerOn] as Instance;
          const writer = instances[t.writerOn];
          tasks.push(
            (async () => {
              await probe.gate('read:start');
              await reader.repo.get(id);
              log.push('read:done');
            })(),
          );
          if (t.secondReader) {
            tasks.push(
              (async () => {
                await probe.gate('read2:start');
                await other.repo.get(id);
              })(),
            );
          }
          tasks.push(
            (async () => {
              await probe.gate('write:start');
              if (t.style === 'invalidate-decorator') await writer.repo.update(id);
              else if (t.style === 'put-decorator') await writer.repo.save(id);
              else {
                await writer.repo.commitOnly(id);
                await writer.cache.delete(NS, id);
              }
              log.push('write:done');
              if (!readAfterWrite) return;
              // Read-your-writes: a read that starts after the write returned must not see the old row.
              const committed = db.get(id)?.v ?? 0;
              const inFlight = writer.engine.flights.has(writer.engine.space.entry(NS, id));
              const after = await writer.repo.get(id);
              if ((after?.v ?? -1) < committed) {
                staleAfterWrite.push(
                  `${id} ${JSON.stringify(t)}: read v${after?.v} after committing v${committed} (a load in flight: ${inFlight}); log=${log.join(',')}`,
                );
              }
            })(),
          );
        });
        await s.waitFor(Promise.all(tasks));
        for (const id of ids) probes.delete(id);

        // Both finished; let every invalidation message reach the other instance. An invalidation that timed out
        // under load (fail open) is queued and replayed on the next success: wait for the queues to drain too.
        await drainBus(instances[0], instances[1]);
        await drainBus(instances[1], instances[0]);
        await waitFor(() => instances.every((i) => i.cache.stats().pendingInvalidations === 0), {
          timeoutMs: 10_000,
          message: 'replay queues to drain',
        });
        await drainBus(instances[0], instances[1]);
        await drainBus(instances[1], instances[0]);

        const stale: string[] = [];
        for (let i = 0; i < ids.length; i++) {
          const id = ids[i] as string;
          const log = logs[i] as string[];
          figures.interleavings++;
          figures.distinctOrders.add(`${trials[i]?.style}|${log.join(',')}`);
          const oldRead = log.indexOf('read:v0');
          const commitAt = log.indexOf('commit');
          const returned = log.indexOf('load:return', oldRead);
          if (oldRead >= 0 && oldRead < commitAt && returned > commitAt) figures.oldReadReturnedAfterCommit++;
          if (oldRead >= 0 && oldRead < commitAt && returned > log.indexOf('write:done'))
            figures.pausedAcrossInvalidation++;

          const current = db.get(id)?.v;
          const held = await tiers(id);
          for (const v of [held.redis, ...held.memory]) {
            if (v !== 'absent' && v !== current) {
              figures.staleTiers++;
              stale.push(
                `${id} (${JSON.stringify(trials[i])}) db=v${current} tiers=${JSON.stringify(held)} log=${log.join(',')}`,
              );
            }
          }
        }
        // And what callers see now, on both instances, equals the database.
        for (const i of instances) {
          const values = await Promise.all(ids.map((id) => i.repo.get(id)));
          values.forEach((row, n) => {
            if (row?.v !== db.get(ids[n] as string)?.v) {
              figures.staleReads++;
              stale.push(`${ids[n]} read v${row?.v} on ${i.name}, db v${db.get(ids[n] as string)?.v}`);
            }
          });
        }
        figures.staleReadsAfterWrite += staleAfterWrite.length;
        figures.backendErrors = instances.reduce((n, i) => n + (i.cache.stats().namespaces[NS]?.errors ?? 0), 0);
        if (stale.length > 0) {
          const health = instances.map((i) => ({
            errors: i.cache.stats().namespaces[NS]?.errors,
            pending: i.cache.stats().pendingInvalidations,
            breaker: i.cache.stats().breaker,
          }));
          throw new Error(
            `old values left behind (${stale.length}; ${JSON.stringify(health)}):\n${stale.slice(0, 10).join('\n')}`,
          );
        }
        if (staleAfterWrite.length > 0)
          throw new Error(`reads after the write saw the old row:\n${staleAfterWrite.slice(0, 5).join('\n')}`);
      },
    ),
    { numRuns, endOnFailure: true },
  );
}

describe('drill 06: read-miss vs write race (two instances, memory tier + Redis)', () => {
  it(`no tier holds the old value after ${KEYS_PER_RUN * RUNS} scheduled interleavings`, async () => {
    const started = performance.now();
    await race(RUNS, false);
    figures.ms = Math.round(performance.now() - started);

    expect(figures.interleavings).toBeGreaterThanOrEqual(10_000);
    expect(figures.staleTiers).toBe(0);
    expect(figures.staleReads).toBe(0);
    // The dangerous orders really happened, many times.
    expect(figures.oldReadReturnedAfterCommit).toBeGreaterThan(500);
    expect(figures.pausedAcrossInvalidation).toBeGreaterThan(100);
    for (const i of instances) expect(i.cache.stats().inFlight).toBe(0);
  }, 120_000);

  it(`read-your-writes: a read started after the write returned never sees the old row (${KEYS_PER_RUN * READ_AFTER_WRITE_RUNS} interleavings)`, async () => {
    await race(READ_AFTER_WRITE_RUNS, true);
    expect(figures.staleReadsAfterWrite).toBe(0);
  }, 60_000);
});
