/**
 * Drill 5 — Long outage under load (scaled: 20 s with Redis SIGKILLed; the bar says 5 min).
 * Bar: pending operations and the replay queue stay under their caps (overflow counted); RSS growth < 50 MB; after
 * recovery the replayed invalidations make Redis agree with the source (Redis persists with AOF, so the values
 * cached before the crash come back with it and must not outlive the writes made during the outage).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { Cached, CacheInvalidate, CachePut, CacheService, composeKey } from 'nestjs-tiercache';
import { decodeEntry, tombstoneId } from '../../libs/cache/src/codec/entry.codec.js';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { engineOf } from '../support/cache-internals.js';
import {
  adminClient,
  bootApp,
  DrillReporter,
  gc,
  loaderSection,
  loadLoop,
  round,
  rssMb,
  watchEscapes,
} from './support/faults.js';

const OUTAGE_MS = 20_000;
const WARM_UP_MS = 4_000;
const MAX_PENDING = 100;
const ROWS = 2_000;
/** Ids cached before the crash (and persisted by Redis); the writers change these during the outage. */
const CACHED = 300;

type User = { id: number; name: string };

@Injectable()
class Users {
  readonly db = new Map<number, User>();
  loads = 0;

  @Cached({ namespace: 'user', key: (id: number) => id, tags: (id: number) => [`user:${id}`] })
  async get(id: number): Promise<User | null> {
    return loaderSection(() => {
      this.loads++;
      const row = this.db.get(id);
      return row ? { ...row } : null;
    });
  }

  @CacheInvalidate({ namespace: 'user', key: (id: number) => id })
  async rename(id: number, name: string): Promise<void> {
    this.db.set(id, { id, name });
  }

  @CachePut({ namespace: 'user', key: (id: number) => id })
  async save(id: number, name: string): Promise<User> {
    const row = { id, name };
    this.db.set(id, row);
    return { ...row };
  }
}

const reporter = new DrillReporter('05-outage-memory');
const escapes = watchEscapes();
afterAll(() => escapes.stop());

describe('drill 5: 20 s outage under load', () => {
  let server: RedisServer;
  let app: INestApplication;
  let admin: Redis;

  beforeAll(async () => {
    // AOF with fsync always: what was cached before the SIGKILL is back after the restart, as on a persistent Redis.
    server = await RedisServer.start({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    app = await bootApp(
      { prefix: 'd05', redis: server.url, memory: { maxEntries: 1000 }, maxPendingInvalidations: MAX_PENDING },
      { providers: [Users] },
    );
    admin = await adminClient(server.port);
  });
  afterAll(async () => {
    admin?.disconnect();
    await app?.close();
    await server?.stop();
  });

  it('queues stay capped (overflow counted), RSS grows < 50 MB, Redis agrees with the source after recovery', async () => {
    const users = app.get(Users);
    const cache = app.get(CacheService);
    const engine = engineOf(app);
    const store = engine.store;
    const key = (id: number): string => engine.space.entry('user', id);
    for (let id = 1; id <= ROWS; id++) users.db.set(id, { id, name: `v1-${id}` });
    for (let id = 1; id <= CACHED; id++) await users.get(id);
    for (let id = 1; id <= CACHED; id++) await cache.set('stats', composeKey(id, 'day-1'), { id, hits: 1 });
    expect(Number(await admin.exists(key(1)))).toBe(1);
    // Another app's key, to show the restarted server did load its data back.
    await admin.set('other-app:persisted', '1');

    await server.kill();
    const downAt = performance.now();
    const samples: { t: number; pending: number; inFlight: number }[] = [];
    let rssWarm = 0;
    let heapWarm = 0;
    let seq = 0;
    let errors = 0;
    let ops: number;
    let peakQueue = 0;
    let peakFlights = 0;
    const sampler = setInterval(() => {
      const s = cache.stats();
      samples.push({ t: performance.now() - downAt, pending: s.pendingInvalidations, inFlight: s.inFlight });
    }, 100);
    try {
      const warm = waitFor(() => performance.now() - downAt > WARM_UP_MS, {
        timeoutMs: WARM_UP_MS + 2_000,
        message: 'the warm-up of the outage',
      }).then(() => {
        rssWarm = rssMb();
        heapWarm = process.memoryUsage().heapUsed / 1024 / 1024;
      });
      ops = await loadLoop(
        8,
        () => performance.now() - downAt > OUTAGE_MS,
        async (lane, i) => {
          const n = ++seq;
          const id = 1 + ((n * 7919) % ROWS);
          const cachedId = 1 + (n % CACHED);
          try {
            switch ((lane + i) % 10) {
              case 6:
                await users.rename(cachedId, `v2-${n}`);
                break;
              case 7:
                await users.save(cachedId, `v3-${n}`);
                break;
              case 8:
                users.db.set(cachedId, { id: cachedId, name: `v4-${n}` });
                await cache.invalidateTags([`user:${cachedId}`]);
                break;
              case 9:
                await cache.invalidatePrefix('stats', [cachedId, `day-${n}`]);
                break;
              default: {
                // Many distinct keys: ids beyond the rows read as null, and each id is read rarely.
                const value = await users.get(id + (n % 5) * ROWS);
                if (value !== null && value.id !== id) throw new Error(`wrong value for ${id}`);
              }
            }
          } catch {
            errors++;
          }
          peakQueue = Math.max(peakQueue, engine.replayer.pending);
          peakFlights = Math.max(peakFlights, engine.flights.size);
        },
      );
      await warm;
    } finally {
      clearInterval(sampler);
    }
    const rssEnd = rssMb();
    const heapEnd = process.memoryUsage().heapUsed / 1024 / 1024;
    const maxPending = Math.max(peakQueue, ...samples.map((s) => s.pending));
    const maxInFlight = Math.max(peakFlights, ...samples.map((s) => s.inFlight));
    const dropped = engine.replayer.dropped;

    expect(errors).toBe(0);
    expect(maxPending).toBeLessThanOrEqual(MAX_PENDING);
    expect(cache.stats().pendingInvalidations).toBeLessThanOrEqual(MAX_PENDING);
    expect(dropped).toBeGreaterThan(0);
    expect(maxInFlight).toBeLessThanOrEqual(8);
    expect(rssEnd - rssWarm).toBeLessThan(50);

    // Recovery: the restarted Redis has the pre-crash values (AOF); the replay must remove every changed one — while
    // readers keep going (a read racing the replay must not leave the old value in the memory tier).
    const replays = (): number => cache.stats().namespaces['_replay']?.invalidations ?? 0;
    const replaysBefore = replays();
    let recovering = true;
    // Reads answered before the replay reached their key may still return the pre-crash value (reported, not a bar).
    let staleWhileReplaying = 0;
    const readers = loadLoop(
      16,
      () => !recovering,
      async (lane, i) => {
        const id = 1 + ((lane * 19 + i) % CACHED);
        const expected = users.db.get(id);
        if (JSON.stringify(await users.get(id)) !== JSON.stringify(expected)) staleWhileReplaying++;
      },
    );
    await server.restart();
    const upAt = performance.now();
    try {
      await waitFor(() => replays() > replaysBefore && cache.stats().pendingInvalidations === 0, {
        timeoutMs: 5_000,
        message: 'the replay after the restart to complete',
      });
    } finally {
      recovering = false;
      await readers;
    }
    const replayedMs = performance.now() - upAt;
    expect(await admin.get('other-app:persisted')).toBe('1');

    const disagreements: string[] = [];
    let removed = 0;
    const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
    for (let id = 1; id <= CACHED; id++) {
      const expected = users.db.get(id);
      const local = store.memory?.peek<User | null>(key(id));
      if (local !== undefined && !same(local.value, expected))
        disagreements.push(`${id}: memory ${JSON.stringify(local.value)} db ${JSON.stringify(expected)}`);
      const raw = await admin.getBuffer(key(id));
      if (raw === null || tombstoneId(raw) !== null) {
        removed++;
        continue;
      }
      const stored = decodeEntry(raw).value as User | null;
      if (!same(stored, expected))
        disagreements.push(`${id}: redis ${JSON.stringify(stored)} db ${JSON.stringify(expected)}`);
    }
    expect(disagreements).toEqual([]);
    for (let id = 1; id <= CACHED; id++) expect(await users.get(id)).toEqual(users.db.get(id));
    for (let id = 1; id <= CACHED; id++) expect(await users.get(id)).toEqual(users.db.get(id));
    expect(escapes.escaped).toEqual([]);

    reporter.add('kill-20s', {
      outageMs: OUTAGE_MS,
      ops,
      errorsSurfaced: errors,
      maxPendingInvalidations: maxPending,
      cap: MAX_PENDING,
      overflowDropped: dropped,
      maxInFlight,
      rssWarmMb: round(rssWarm, 1),
      rssEndMb: round(rssEnd, 1),
      rssGrowthMb: round(rssEnd - rssWarm, 1),
      heapGrowthMb: round(heapEnd - heapWarm, 1),
      gcExposed: gc !== undefined,
      replayedAfterRestartMs: round(replayedMs, 0),
      preCrashEntriesRemovedByReplay: removed,
      tierDisagreementsAfter: disagreements.length,
      staleReadsWhileReplaying: staleWhileReplaying,
    });
  }, 60_000);
});
