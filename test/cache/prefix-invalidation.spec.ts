import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import { CacheService, composeKey } from 'nestjs-tiercache';
import { RedisServer } from '../harness/redis-server.js';
import { bootCache } from './fixtures.js';

// Pattern metacharacters, separators, escapes and empty parts: each must address only its own keys.
const NASTY = ['*', '?', '[', ']', '[a-z]', '\\', ':', '', 'a*', '*:*', '\\*', 'x'.repeat(100), 'ü', '#', '#x'];

describe('invalidatePrefix on real Redis (scoped, escaped, SCAN + UNLINK)', () => {
  let redis: RedisServer;
  let app: INestApplicationContext;
  let cache: CacheService;

  beforeAll(async () => {
    redis = await RedisServer.start();
    app = await bootCache({ prefix: 'pfx', redis: redis.url, memory: { maxEntries: 1000 } }, []);
    cache = app.get(CacheService);
  });
  afterAll(async () => {
    await app.close();
    await redis.stop();
  });

  it('removes exactly the keys under the given parts, and returns how many went', async () => {
    for (const user of [1, 2, 12])
      for (const day of ['mon', 'tue']) await cache.set('stats', composeKey(user, day), `${user}-${day}`);
    await cache.set('other', composeKey(1, 'mon'), 'other-ns');
    await redis.command('SET', 'foreign:stats:1:mon', 'theirs');
    expect(await cache.invalidatePrefix('stats', [1])).toBe(2);
    expect(await cache.get('stats', composeKey(1, 'mon'))).toBeUndefined();
    expect(await cache.get('stats', composeKey(12, 'mon'))).toBe('12-mon');
    expect(await cache.get('stats', composeKey(2, 'tue'))).toBe('2-tue');
    expect(await cache.get('other', composeKey(1, 'mon'))).toBe('other-ns');
    expect(await redis.command('GET', 'foreign:stats:1:mon')).toBe('theirs');
  });

  it.each(NASTY.map((p) => [JSON.stringify(p).slice(0, 20), p]))(
    'part %s removes only its own keys',
    async (_label, part) => {
      await cache.clearNamespace('nasty');
      for (const p of NASTY) await cache.set('nasty', composeKey(p, 'leaf'), p);
      const removed = await cache.invalidatePrefix('nasty', [part]);
      expect(removed).toBe(1);
      for (const p of NASTY) {
        const value = await cache.get('nasty', composeKey(p, 'leaf'));
        if (p === part) expect(value).toBeUndefined();
        else expect(value).toBe(p);
      }
    },
  );

  it('never sends KEYS', async () => {
    const monitorLike = (await redis.command('INFO', 'commandstats')) as string;
    expect(monitorLike).not.toMatch(/cmdstat_keys:/);
    expect(monitorLike).toMatch(/cmdstat_scan:/);
  });
});
