// Drill 15 — hot key expiry at steady load: with eagerRefresh, no call waits for the loader at the expiry boundary
// (the loader takes 100 ms; after warm-up every call answers in < 50 ms), and there is about one refresh per TTL
// window per process. A call is fired every 2 ms for 5 s on one key (ttl 500 ms, eagerRefresh 0.5), in memory,
// Redis and Redis + memory modes.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { Cached, CacheService } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { bootCache } from '../cache/fixtures.js';
import { RedisServer } from '../harness/redis-server.js';
import { withTimeout } from '../harness/with-timeout.js';
import { reportDrill } from './support/processes.js';

// Real servers, processes and fault injection: slower than a unit test, especially on a loaded machine.
jest.setTimeout(60_000);

const TTL_MS = 500;
const EAGER = 0.5;
const LOAD_MS = 100;
const DURATION_MS = 5_000;
const EVERY_MS = 2;
const SLOW_CALL_MS = 50;

@Injectable()
class Hot {
  loads = 0;

  @Cached({ namespace: 'hot', key: (k: string) => k, ttl: TTL_MS, eagerRefresh: EAGER })
  async get(key: string): Promise<{ key: string; n: number }> {
    const n = ++this.loads;
    await new Promise((resolve) => setTimeout(resolve, LOAD_MS));
    return { key, n };
  }
}

let redis: RedisServer;
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis?.stop();
  reportDrill('15', figures, `hot key expiry: ${JSON.stringify(figures)}`);
});

const modes: [string, () => CacheModuleOptions][] = [
  ['memory', () => ({ prefix: 'drill15-mem' })],
  ['redis', () => ({ prefix: 'drill15-redis', redis: redis.url })],
  ['redis+memory', () => ({ prefix: 'drill15-tier', redis: redis.url, memory: { maxEntries: 1000 } })],
];

describe.each(modes)('drill 15 on %s', (mode, options) => {
  let app: INestApplicationContext;
  let hot: Hot;
  let cache: CacheService;

  beforeAll(async () => {
    app = await bootCache(options(), [Hot]);
    hot = app.get(Hot);
    cache = app.get(CacheService);
  });
  afterAll(async () => {
    await app.close();
  });

  it(
    `a call every ${EVERY_MS} ms for ${DURATION_MS} ms: no call waits for the loader, ~1 refresh per TTL window`,
    async () => {
      // Warm-up: the one cold miss.
      await hot.get('k');
      const loadsBefore = hot.loads;
      const latencies: number[] = [];
      const values = new Set<number>();
      let errors = 0;
      const pending = new Set<Promise<void>>();
      const started = performance.now();
      await withTimeout(
        new Promise<void>((resolve) => {
          const timer = setInterval(() => {
            if (performance.now() - started >= DURATION_MS) {
              clearInterval(timer);
              resolve();
              return;
            }
            const t0 = performance.now();
            const p = hot.get('k').then(
              (v) => {
                latencies.push(performance.now() - t0);
                values.add(v.n);
              },
              () => void errors++,
            );
            pending.add(p);
            void p.finally(() => pending.delete(p));
          }, EVERY_MS);
        }),
        DURATION_MS + 2_000,
        'the load phase',
      );
      await withTimeout(Promise.all(pending), 2_000, 'the last calls');
      const elapsed = performance.now() - started;
      const refreshes = hot.loads - loadsBefore;
      const sorted = [...latencies].sort((a, b) => a - b);
      const p = (q: number): number =>
        Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 100) / 100;
      const slow = latencies.filter((ms) => ms >= SLOW_CALL_MS).length;
      // A refresh starts once an entry is EAGER·TTL old and takes LOAD_MS: one per TTL window at most, one per
      // (EAGER·TTL + LOAD_MS) in practice.
      const expected = elapsed / (TTL_MS * EAGER + LOAD_MS);
      figures[mode] = {
        calls: latencies.length,
        errors,
        slowCalls: slow,
        p50Ms: p(0.5),
        p99Ms: p(0.99),
        maxMs: p(1),
        refreshes,
        expectedRefreshes: Math.round(expected * 10) / 10,
        distinctValues: values.size,
        inFlightAfter: cache.stats().inFlight,
      };

      expect(errors).toBe(0);
      expect(latencies.length).toBeGreaterThan(DURATION_MS / EVERY_MS / 4);
      expect(slow).toBe(0);
      expect(refreshes).toBeGreaterThanOrEqual(Math.floor(elapsed / TTL_MS) - 1);
      expect(refreshes).toBeLessThanOrEqual(Math.ceil(elapsed / (TTL_MS * EAGER)) + 1);
      expect(Math.abs(refreshes - expected)).toBeLessThanOrEqual(3);
      // Callers saw the refreshed values come in.
      expect(values.size).toBeGreaterThanOrEqual(refreshes - 1);
      expect(cache.stats().inFlight).toBeLessThanOrEqual(1);
    },
    DURATION_MS + 10_000,
  );
});
