import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { CacheService, WarmUp } from 'nestjs-tiercache';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { bootCache } from './fixtures.js';

@Injectable()
class CatalogueWarmer {
  static calls = 0;

  @WarmUp({ namespace: 'models', once: true, timeout: '2s' })
  async models(): Promise<Array<[string, { id: string; price: string }]>> {
    CatalogueWarmer.calls++;
    return [
      ['gpt', { id: 'gpt', price: '0.10' }],
      ['local', { id: 'local', price: '0.00' }],
    ];
  }
}

@Injectable()
class SlowWarmer {
  static open: () => void = () => undefined;
  static readonly gate = new Promise<void>((resolve) => (SlowWarmer.open = resolve));

  @WarmUp({ namespace: 'slow', timeout: '200ms' })
  async fill(): Promise<Map<string, number>> {
    await SlowWarmer.gate;
    return new Map([['a', 1]]);
  }
}

describe('cache warming', () => {
  let redis: RedisServer;
  const apps: INestApplicationContext[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await redis.stop();
  });

  it('@WarmUp fills the namespace at bootstrap, once per deploy across instances', async () => {
    const options = { prefix: 'warm', redis: redis.url, deployId: 'v1' };
    apps.push(await bootCache(options, [CatalogueWarmer]));
    apps.push(await bootCache(options, [CatalogueWarmer]));
    expect(CatalogueWarmer.calls).toBe(1);
    const cache = apps[1]!.get(CacheService);
    expect(await cache.get('models', 'gpt')).toEqual({ id: 'gpt', price: '0.10' });
    // A new deploy warms again.
    apps.push(await bootCache({ ...options, deployId: 'v2' }, [CatalogueWarmer]));
    expect(CatalogueWarmer.calls).toBe(2);
    // On demand, warmAll re-runs the warmers (the once-lease of this deploy is held: skipped).
    const reports = await cache.warmAll();
    expect(reports).toEqual([
      { name: 'CatalogueWarmer#models', report: expect.objectContaining({ skipped: true, written: 0 }) },
    ]);
  });

  it('never delays readiness beyond the warmer timeout; warming finishes in the background', async () => {
    // The warmer is still blocked on its gate when boot completes: readiness did not wait for it.
    const app = await bootCache({ prefix: 'warm-slow' }, [SlowWarmer]);
    apps.push(app);
    const cache = app.get(CacheService);
    expect(await cache.get('slow', 'a')).toBeUndefined();
    SlowWarmer.open();
    await waitFor(async () => (await cache.get('slow', 'a')) === 1, { message: 'the background warmer to finish' });
  });

  it('CacheService.warm reports what it wrote and what it could not cache', async () => {
    const app = await bootCache({ prefix: 'warm-api', namespaces: { small: { maxValueBytes: 64 } } }, []);
    apps.push(app);
    const report = await app.get(CacheService).warm('small', [
      ['a', 'x'],
      ['b', 'y'.repeat(500)],
    ]);
    expect(report).toEqual(expect.objectContaining({ namespace: 'small', written: 1, failed: 1, skipped: false }));
    expect(app.get(CacheService).stats().namespaces.small?.refused).toBe(1);
  });
});
