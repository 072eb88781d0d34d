import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CacheStatsReporter } from 'nestjs-tiercache/health';
import type { CacheStatsReport } from 'nestjs-tiercache/health';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { bootObservabilityApp } from './observability-app.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis.stop();
});

describe('GET /cache/stats', () => {
  it('reports hit rate per namespace, memory, evictions and Redis round trip, keys and memory; nulls while Redis is down', async () => {
    const app = await bootObservabilityApp({
      cache: { prefix: 'obs-s', redis: redis.url, memory: { maxEntries: 2 } },
      metrics: false,
      prometheus: false,
      stats: {},
    });
    try {
      await waitFor(
        async () => (await app.cache.set('user', 0, { id: 0 })) && (app.cache.stats().memory?.entries ?? 0) > 0,
        { message: 'a trusted memory tier' },
      );
      app.repo.rows.set(1, { id: 1, name: 'a', balance: 1 });
      await app.repo.getUser(1);
      await app.repo.getUser(1);
      for (let id = 10; id < 14; id++) await app.cache.set('user', id, { id });

      const res = await app.http().get('/cache/stats').expect(200);
      const report = res.body as CacheStatsReport;
      expect(report).toMatchObject({ enabled: true, backend: 'tiered', redisConnected: true });
      expect(report.namespaces.user).toMatchObject({ hits: 1, misses: 1, hitRate: 0.5 });
      expect(report.memory?.entries).toBeLessThanOrEqual(2);
      expect(report.evictions).toBeGreaterThanOrEqual(2);
      expect(report.redis?.connected).toBe(true);
      expect(report.redis?.rttMs).toBeGreaterThanOrEqual(0);
      expect(report.redis?.keys).toBeGreaterThanOrEqual(5);
      expect(report.redis?.usedMemoryBytes).toBeGreaterThan(100_000);
      expect(JSON.stringify(report)).not.toContain(String(redis.port));

      await redis.kill();
      try {
        await waitFor(
          async () => ((await app.http().get('/cache/stats')).body as CacheStatsReport).redis?.connected === false,
          { message: 'stats to see Redis down' },
        );
        const down = (await app.http().get('/cache/stats').expect(200)).body as CacheStatsReport;
        expect(down.redis).toMatchObject({ connected: false, rttMs: null, keys: null, usedMemoryBytes: null });
      } finally {
        await redis.restart();
      }
    } finally {
      await app.close();
    }
  });

  it('mounts at a custom path, or not at all (reporter only)', async () => {
    const custom = await bootObservabilityApp({
      cache: { prefix: 'obs-s2' },
      metrics: false,
      prometheus: false,
      stats: { path: 'admin/cache' },
    });
    try {
      await custom.http().get('/cache/stats').expect(404);
      const body = (await custom.http().get('/admin/cache').expect(200)).body as CacheStatsReport;
      expect(body).toMatchObject({ backend: 'memory', redis: null });
    } finally {
      await custom.close();
    }
    const none = await bootObservabilityApp({
      cache: { prefix: 'obs-s3' },
      metrics: false,
      prometheus: false,
      stats: { path: false },
    });
    try {
      await none.http().get('/cache/stats').expect(404);
      expect((await none.app.get(CacheStatsReporter).report()).backend).toBe('memory');
    } finally {
      await none.close();
    }
  });
});
