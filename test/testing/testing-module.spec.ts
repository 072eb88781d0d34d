// The testing door (issue "Real apps"): an app's test imports CacheTestingModule, gets the real cache on the memory
// backend (no Redis, even if the options name one), asserts on CacheRecords, drives TTLs with Jest's fake timers,
// and is told — not left guessing — when it forgot app.init().
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Cached, CacheInvalidate, CacheService } from 'nestjs-tiercache';
import { CacheRecords, CacheTestingModule } from 'nestjs-tiercache/testing';

@Injectable()
class Users {
  loads = 0;

  @Cached({ namespace: 'user', key: (id: number) => id, ttl: '1m' })
  async get(id: number): Promise<{ id: number; load: number }> {
    return { id, load: ++this.loads };
  }

  @CacheInvalidate({ namespace: 'user', key: (id: number) => id })
  async rename(_id: number): Promise<void> {}
}

async function boot(init = true) {
  const moduleRef = await Test.createTestingModule({
    imports: [CacheTestingModule.forRoot({ namespaces: { user: { ttl: '1m' } } })],
    providers: [Users],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  if (init) await app.init();
  return app;
}

afterEach(() => {
  jest.useRealTimers();
});

describe('CacheTestingModule', () => {
  it('caches in memory and records hits, misses, writes and invalidations', async () => {
    const app = await boot();
    try {
      const users = app.get(Users);
      const records = app.get(CacheRecords);
      await users.get(1);
      await users.get(1);
      expect(users.loads).toBe(1);
      expect(records.misses('user')).toBe(1);
      expect(records.hits('user')).toBe(1);
      expect(records.writes('user')).toBe(1);
      await users.rename(1);
      expect(records.invalidations('user')).toBe(1);
      await users.get(1);
      expect(users.loads).toBe(2);
      expect(app.get(CacheService).stats().backend).toBe('memory');
      records.clear();
      expect(records.all()).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('TTLs follow Jest fake timers', async () => {
    jest.useFakeTimers({ now: new Date('2026-12-01T00:00:00Z'), doNotFake: ['nextTick', 'setImmediate'] });
    const app = await boot();
    try {
      const users = app.get(Users);
      await users.get(7);
      jest.setSystemTime(new Date('2026-12-01T00:00:59Z'));
      await users.get(7);
      expect(users.loads).toBe(1);
      jest.setSystemTime(new Date('2026-12-01T00:01:01Z'));
      await users.get(7);
      expect(users.loads).toBe(2);
    } finally {
      await app.close();
    }
  });

  it('says so when the app was not initialized (decorated methods do not cache yet)', async () => {
    const app = await boot(false);
    try {
      const users = app.get(Users);
      await users.get(1);
      await users.get(1);
      expect(users.loads).toBe(2);
      expect(() => app.get(CacheRecords).hits('user')).toThrow(/not initialized.*app\.init\(\)/);
    } finally {
      await app.close();
    }
  });
});
