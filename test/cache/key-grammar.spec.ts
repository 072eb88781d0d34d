// One key grammar (issue "Core reshaped", item 1): whichever path writes an entry (a @Cached default key, a `key`
// function, @CachePut, cache.set) and whichever path names it afterwards (cache.get, invalidateOn, @CacheInvalidate
// key / keys, cache.delete, clearNamespace), they agree on the entry — for every pair, on the memory
// backend and on memory + a real Redis. And a combination that cannot work (invalidateOn on a method whose default key
// is not one value) stops the boot naming Class#method and the fix.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable, Module } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import { Cached, CacheInvalidate, CacheModule, CachePut, CacheService } from 'nestjs-tiercache';
import { RedisServer } from '../harness/redis-server.js';
import { bootCache } from './fixtures.js';

type Id = number | string | { org: number; id: number };

@Injectable()
class Accounts {
  readonly rows = new Map<string, string>();
  loads = 0;

  private row(id: Id): string {
    return this.rows.get(JSON.stringify(id)) ?? 'none';
  }

  @Cached({ namespace: 'acct', invalidateOn: { 'acct.changed': (e: { id: Id }) => e.id } })
  async byDefault(id: Id): Promise<string> {
    this.loads++;
    return `${this.row(id)}@${this.loads}`;
  }

  @Cached({ namespace: 'acct', key: (id: Id) => id })
  async byKeyFn(id: Id): Promise<string> {
    this.loads++;
    return `${this.row(id)}@${this.loads}`;
  }

  @CachePut({ namespace: 'acct', key: (id: Id) => id })
  async save(id: Id, name: string): Promise<string> {
    this.rows.set(JSON.stringify(id), name);
    return `${name}@put`;
  }

  @CacheInvalidate({ namespace: 'acct', key: (id: Id) => id })
  async invalidateByKey(id: Id): Promise<void> {
    this.rows.delete(JSON.stringify(id));
  }

  @CacheInvalidate({ namespace: 'acct', keys: (ids: Id[]) => ids })
  async invalidateByKeys(_ids: Id[]): Promise<void> {}
}

const IDS: Id[] = [42, '42', 'abc', '=n42', '#x', 'a:b*', 'x'.repeat(300), { org: 1, id: 2 }];

type Writer = 'default' | 'keyFn' | 'put' | 'set';
type Namer = 'get' | 'event' | 'invKey' | 'invKeys' | 'delete' | 'clear';
const WRITERS: Writer[] = ['default', 'keyFn', 'put', 'set'];
const NAMERS: Namer[] = ['get', 'event', 'invKey', 'invKeys', 'delete', 'clear'];

function suite(label: string, options: () => Parameters<typeof bootCache>[0]): void {
  describe(`one key grammar: every writer × every reader/invalidator (${label})`, () => {
    let app: INestApplicationContext;
    let accounts: Accounts;
    let cache: CacheService;
    let events: EventEmitter2;

    beforeAll(async () => {
      app = await bootCache(options(), [Accounts]);
      accounts = app.get(Accounts);
      cache = app.get(CacheService);
      events = app.get(EventEmitter2);
    });
    afterAll(() => app?.close());

    const write = async (writer: Writer, id: Id): Promise<string> => {
      switch (writer) {
        case 'default':
          return accounts.byDefault(id);
        case 'keyFn':
          return accounts.byKeyFn(id);
        case 'put':
          return accounts.save(id, 'saved');
        case 'set':
          await cache.set('acct', id, 'set@api');
          return 'set@api';
      }
    };

    const name = async (namer: Exclude<Namer, 'get'>, id: Id): Promise<void> => {
      switch (namer) {
        case 'event':
          await events.emitAsync('acct.changed', { id });
          return;
        case 'invKey':
          return accounts.invalidateByKey(id);
        case 'invKeys':
          return accounts.invalidateByKeys([id]);
        case 'delete':
          return cache.delete('acct', id);
        case 'clear':
          await cache.clearNamespace('acct');
          return;
      }
    };

    for (const writer of WRITERS) {
      for (const namer of NAMERS) {
        it(`${writer} × ${namer}`, async () => {
          for (const id of IDS) {
            await cache.clearNamespace('acct');
            const stored = await write(writer, id);
            // Every path reads the entry the writer wrote…
            expect(await cache.get('acct', id)).toBe(stored);
            expect(await accounts.byDefault(id)).toBe(stored);
            expect(await accounts.byKeyFn(id)).toBe(stored);
            if (namer === 'get') continue;
            // …and every path that names it removes exactly it.
            await name(namer, id);
            expect(await cache.get('acct', id)).toBeUndefined();
            const before = accounts.loads;
            const fresh = await accounts.byDefault(id);
            expect(fresh).not.toBe(stored);
            expect(accounts.loads).toBe(before + 1);
          }
        });
      }
    }

    it('values that differ in type never share an entry (42 ≠ "42", "=n42" is a string)', async () => {
      await cache.clearNamespace('acct');
      await cache.set('acct', 42, 'number');
      await cache.set('acct', '42', 'string');
      await cache.set('acct', '=n42', 'lookalike');
      expect(await cache.get('acct', 42)).toBe('number');
      expect(await cache.get('acct', '42')).toBe('string');
      expect(await cache.get('acct', '=n42')).toBe('lookalike');
      await cache.delete('acct', 42);
      expect(await cache.get('acct', '42')).toBe('string');
      expect(await cache.get('acct', '=n42')).toBe('lookalike');
    });

    it('null and undefined are refused as explicit keys with a clear error', async () => {
      await expect(cache.get('acct', undefined)).rejects.toMatchObject({ code: 'E_UNSERIALIZABLE_KEY' });
      await expect(cache.delete('acct', null)).rejects.toMatchObject({ code: 'E_UNSERIALIZABLE_KEY' });
    });
  });
}

suite('memory backend', () => ({ prefix: 'kg' }));

let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(() => redis?.stop());
suite('memory tier + Redis', () => ({ prefix: 'kg', redis: redis.url, memory: { maxEntries: 1_000 } }));
suite('Redis only', () => ({ prefix: 'kg', redis: redis.url }));

describe('combinations that cannot work stop the boot', () => {
  it('invalidateOn on a method without `key` whose default key is not one value', async () => {
    @Injectable()
    class Prices {
      @Cached({ namespace: 'price', invalidateOn: { 'price.changed': (e: { id: number }) => e.id } })
      async price(_id: number, _currency: string): Promise<number> {
        return 1;
      }
    }
    await expect(bootCache({ prefix: 'kg2' }, [Prices])).rejects.toThrow(
      /Prices#price: invalidateOn .*declares 2 parameters.*Fix: give @Cached a `key` function/,
    );
  });
});

describe('two CacheModule.forRoot in one app', () => {
  it('stop the boot when a decorated method could land in either cache (never a silent mix)', async () => {
    @Injectable()
    class SessionsRepo {
      @Cached({ namespace: 'session' })
      async session(id: string): Promise<string> {
        return id;
      }
    }
    @Injectable()
    class CatalogueRepo {
      @Cached({ namespace: 'catalogue' })
      async item(id: string): Promise<string> {
        return id;
      }
    }
    @Module({ imports: [CacheModule.forRoot({ prefix: 'a' })], providers: [SessionsRepo] })
    class Sessions {}
    @Module({ imports: [CacheModule.forRoot({ prefix: 'b', enabled: false })], providers: [CatalogueRepo] })
    class Catalogue {}
    const moduleRef = await Test.createTestingModule({
      imports: [EventEmitterModule.forRoot(), Sessions, Catalogue],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await expect(app.init()).rejects.toThrow(
      /imports CacheModule\.forRoot 2 times without a name.*Fix: name the caches/,
    );
    await app.close().catch(() => undefined);
  });
});
