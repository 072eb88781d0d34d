// Drill 14 — the loader fails or hangs: concurrent callers share one error; errors are not cached; a hung loader
// is cut by the hard timeout (CacheError E_TIMEOUT) and its in-flight entry removed (the next call starts a new
// load); with a stale value in grace and fail-safe on, the stale value is served — when the loader throws and when
// it is slower than the soft timeout — and counted. (The plain shared-error path without timeouts is in
// test/cache/decorators.spec.ts; here the loader runs under timeout/fail-safe policies, on every backend.)
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { Cached, CacheError, CacheService } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { bootCache } from '../cache/fixtures.js';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { reportDrill } from './support/processes.js';
import { engineOf, entryKey } from '../support/cache-internals.js';

// Real servers, processes and fault injection: slower than a unit test, especially on a loaded machine.
jest.setTimeout(60_000);

const HARD_MS = 200;
const SOFT_MS = 100;
const TTL_MS = 300;

type Row = { key: string; rev: number };

@Injectable()
class Source {
  calls = 0;
  behaviour: (key: string) => Promise<Row> = async (key) => ({ key, rev: 1 });

  @Cached({ namespace: 'strict', key: (k: string) => k, hardTimeout: 2_000 })
  async strict(key: string): Promise<Row> {
    this.calls++;
    return this.behaviour(key);
  }

  @Cached({ namespace: 'hung', key: (k: string) => k, hardTimeout: HARD_MS })
  async hung(key: string): Promise<Row> {
    this.calls++;
    return this.behaviour(key);
  }

  @Cached({
    namespace: 'safe',
    key: (k: string) => k,
    ttl: TTL_MS,
    grace: '1m',
    softTimeout: SOFT_MS,
    hardTimeout: 2_000,
  })
  async safe(key: string): Promise<Row> {
    this.calls++;
    return this.behaviour(key);
  }
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

let redis: RedisServer;
const figures: Record<string, Record<string, unknown>> = {};

beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis?.stop();
  reportDrill('14', figures, `loader fails/hangs: ${JSON.stringify(figures)}`);
});

const modes: [string, () => CacheModuleOptions][] = [
  ['memory', () => ({ prefix: 'drill14-mem' })],
  ['redis', () => ({ prefix: 'drill14-redis', redis: redis.url })],
  ['redis+memory', () => ({ prefix: 'drill14-tier', redis: redis.url, memory: { maxEntries: 1000 } })],
];

describe.each(modes)('drill 14 on %s', (mode, options) => {
  let app: INestApplicationContext;
  let source: Source;
  let cache: CacheService;
  const stale: Record<string, number> = {};
  const f: Record<string, unknown> = {};

  beforeAll(async () => {
    app = await bootCache(options(), [Source]);
    source = app.get(Source);
    cache = app.get(CacheService);
    engineOf(app).telemetry.addRecorder({
      record: (namespace, _tier, operation, outcome) => {
        if (operation === 'load' && outcome === 'stale') stale[namespace] = (stale[namespace] ?? 0) + 1;
      },
    });
    figures[mode] = f;
  });
  afterAll(async () => {
    await app.close();
  });

  it('200 concurrent callers share one error (the original, untouched); the error is not cached', async () => {
    source.calls = 0;
    const g = gate();
    const boom = new Error('source down');
    source.behaviour = async () => {
      await g.promise;
      throw boom;
    };
    const calls = Array.from({ length: 200 }, () => source.strict('e1'));
    await waitFor(() => source.calls === 1, { timeoutMs: 2_000, message: 'the loader to start' });
    g.open();
    const settled = await Promise.allSettled(calls);
    expect(settled.every((r) => r.status === 'rejected' && r.reason === boom)).toBe(true);
    expect(source.calls).toBe(1);
    expect(cache.stats().inFlight).toBe(0);
    expect(await cache.get('strict', 'e1')).toBeUndefined();
    if (mode !== 'memory') expect(await redis.command('EXISTS', entryKey(app, 'strict', 'e1'))).toBe(0);

    source.behaviour = async (key) => ({ key, rev: 2 });
    expect(await source.strict('e1')).toEqual({ key: 'e1', rev: 2 });
    expect(source.calls).toBe(2);
    f['sharedErrorCallers'] = 200;
    f['loaderCallsForSharedError'] = 1;
  });

  it(`a hung loader is cut by hardTimeout (${HARD_MS} ms, E_TIMEOUT); its in-flight entry goes and the next call loads anew`, async () => {
    source.calls = 0;
    source.behaviour = () => new Promise<never>(() => undefined);
    const started = performance.now();
    const settled = await Promise.allSettled(Array.from({ length: 100 }, () => source.hung('h1')));
    const ms = performance.now() - started;
    expect(source.calls).toBe(1);
    for (const r of settled) {
      expect(r.status).toBe('rejected');
      const reason = (r as PromiseRejectedResult).reason as unknown;
      expect(reason).toBeInstanceOf(CacheError);
      expect((reason as CacheError).code).toBe('E_TIMEOUT');
    }
    expect(ms).toBeGreaterThanOrEqual(HARD_MS - 5);
    expect(ms).toBeLessThan(HARD_MS + 250);
    expect(cache.stats().inFlight).toBe(0);

    source.behaviour = async (key) => ({ key, rev: 7 });
    expect(await source.hung('h1')).toEqual({ key: 'h1', rev: 7 });
    expect(source.calls).toBe(2);
    expect(await source.hung('h1')).toEqual({ key: 'h1', rev: 7 });
    expect(source.calls).toBe(2);
    f['hardTimeoutCutMs'] = Math.round(ms);
  });

  it('fail-safe: a stale value in grace is served when the loader throws, and counted', async () => {
    source.calls = 0;
    source.behaviour = async (key) => ({ key, rev: 1 });
    expect(await source.safe('s1')).toEqual({ key: 's1', rev: 1 });
    await waitFor(async () => (await cache.get('safe', 's1')) === undefined, {
      timeoutMs: 3_000,
      message: 's1 to expire',
    });
    source.behaviour = async () => {
      throw new Error('source down');
    };
    const before = stale['safe'] ?? 0;
    const results = await Promise.all(Array.from({ length: 50 }, () => source.safe('s1')));
    expect(results.every((r) => r.rev === 1)).toBe(true);
    expect(source.calls).toBe(2);
    expect((stale['safe'] ?? 0) - before).toBe(1);
    expect(cache.stats().inFlight).toBe(0);
    // Recovery: the source answers again, the fresh value replaces the stale one.
    source.behaviour = async (key) => ({ key, rev: 2 });
    expect(await source.safe('s1')).toEqual({ key: 's1', rev: 2 });
    f['staleServedOnError'] = 50;
  });

  it(`fail-safe: a loader slower than softTimeout (${SOFT_MS} ms) answers with the stale value; the late result is cached`, async () => {
    source.calls = 0;
    source.behaviour = async (key) => ({ key, rev: 1 });
    await source.safe('s2');
    await waitFor(async () => (await cache.get('safe', 's2')) === undefined, {
      timeoutMs: 3_000,
      message: 's2 to expire',
    });
    const g = gate();
    source.behaviour = async (key) => {
      await g.promise;
      return { key, rev: 3 };
    };
    const before = stale['safe'] ?? 0;
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 50 }, () => source.safe('s2')));
    const ms = performance.now() - started;
    expect(results.every((r) => r.rev === 1)).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(SOFT_MS - 5);
    expect(ms).toBeLessThan(SOFT_MS + 150);
    expect(source.calls).toBe(2);
    expect((stale['safe'] ?? 0) - before).toBe(1);
    expect(cache.stats().inFlight).toBe(0);
    // While the slow load still runs, later callers get the stale value too, without a second load of the key.
    const during = await Promise.all(Array.from({ length: 20 }, () => source.safe('s2')));
    expect(during.every((r) => r.rev === 1)).toBe(true);
    expect(source.calls).toBe(2);
    g.open();
    await waitFor(async () => (await cache.get<Row>('safe', 's2'))?.rev === 3, {
      timeoutMs: 2_000,
      message: 'the late value to be cached',
    });
    expect(await source.safe('s2')).toEqual({ key: 's2', rev: 3 });
    expect(source.calls).toBe(2);
    f['softTimeoutStaleMs'] = Math.round(ms);
  });
});
