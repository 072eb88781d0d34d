// nestjs-tiercache/compat's CacheModule and CACHE_MANAGER against a real redis-server: sync and async registration
// (factory, class, existing, extra providers, isGlobal), the cache-manager 7 Cache API, several tiers (memory +
// Redis), non-blocking writes, fail-open when Redis dies, options that cannot be honoured stopping the boot, and
// GraphQL resolver handlers refused at boot. Keyv `stores`: keyv-stores.spec.ts and keyv-stores-faults.spec.ts.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Inject, Injectable, Module } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { CacheError, CacheModule as TierCacheModule, CacheService, Cached } from 'nestjs-tiercache';
import { CACHE_MANAGER, Cache, CacheModule } from 'nestjs-tiercache/compat';
import type { CacheModuleOptions, CacheOptionsFactory } from 'nestjs-tiercache/compat';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { bootHttp } from './compat-app.js';

@Injectable()
class Consumer {
  constructor(
    @Inject(CACHE_MANAGER) readonly manager: Cache,
    readonly byClass: Cache,
  ) {}
}

async function context(imports: NonNullable<Parameters<typeof Module>[0]>['imports'], providers = [Consumer]) {
  @Module({ imports, providers })
  class AppModule {}
  return NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false });
}

async function bootError(options: CacheModuleOptions): Promise<string> {
  try {
    const app = await context([CacheModule.register(options)]);
    await app.close();
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  throw new Error('the boot did not fail');
}

describe('nestjs-tiercache/compat CacheModule on Redis', () => {
  let redis: RedisServer;
  const apps: INestApplicationContext[] = [];
  const open = async (options: CacheModuleOptions): Promise<INestApplicationContext> => {
    const app = await context([CacheModule.register(options)]);
    apps.push(app);
    return app;
  };
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await redis?.stop();
  });

  it('serves the cache-manager 7 API from Redis, under <prefix>:<namespace>:<key>', async () => {
    const app = await open({ ttl: 60_000, tiercache: { redis: redis.url, prefix: 'cm-api' } });
    const { manager, byClass } = app.get(Consumer);
    expect(byClass).toBe(manager); // the Cache class is a token for the same instance
    const before = Date.now();
    await expect(manager.set('a', { n: 1 })).resolves.toEqual({ n: 1 });
    await expect(manager.get('a')).resolves.toEqual({ n: 1 });
    expect(await redis.command('EXISTS', 'cm-api:keyv:a')).toBe(1);
    const expires = await manager.ttl('a');
    expect(expires).toBeGreaterThanOrEqual(before + 60_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 60_000);
    await manager.set('short', 1, 5_000);
    expect(await manager.ttl('short')).toBeLessThanOrEqual(Date.now() + 5_000);
    await expect(manager.ttl('missing')).resolves.toBeUndefined();
    await expect(manager.get('missing')).resolves.toBeUndefined();

    await manager.mset<number | string>([
      { key: 'm1', value: 1 },
      { key: 'm2', value: 'two', ttl: 10_000 },
    ]);
    await expect(manager.mget(['m1', 'm2', 'm3'])).resolves.toEqual([1, 'two', undefined]);
    await expect(manager.mdel(['m1', 'm2'])).resolves.toBe(true);
    await expect(manager.mget(['m1', 'm2'])).resolves.toEqual([undefined, undefined]);
    await expect(manager.del('a')).resolves.toBe(true);
    await expect(manager.get('a')).resolves.toBeUndefined();

    let loads = 0;
    const load = async (): Promise<string> => `v${++loads}`;
    await expect(Promise.all([manager.wrap('w', load, 60_000), manager.wrap('w', load)])).resolves.toEqual([
      'v1',
      'v1',
    ]);
    await expect(manager.wrap('w', load)).resolves.toBe('v1');
    const raw = await manager.wrap('w', load, { raw: true });
    expect(raw).toMatchObject({ value: 'v1' });
    expect(raw.expires).toBeGreaterThan(Date.now());
    await manager.wrap('wf', async () => 7, { ttl: (v: number) => v * 1_000 });
    expect(await manager.ttl('wf')).toBeLessThanOrEqual(Date.now() + 7_000);

    const events: string[] = [];
    manager.on('set', ({ key }) => events.push(`set:${key}`)).on('del', ({ key }) => events.push(`del:${key}`));
    await manager.set('e', 1);
    await manager.del('e');
    expect(events).toEqual(['set:e', 'del:e']);

    // clear() empties this cache's namespace only: tiercache's own entries stay.
    const service = app.get(CacheService);
    await service.set('other', 'k', 'kept');
    await manager.set('c', 1);
    await expect(manager.clear()).resolves.toBe(true);
    await expect(manager.get('c')).resolves.toBeUndefined();
    await expect(service.get('other', 'k')).resolves.toBe('kept');
  });

  it("shares entries with the native module: CacheService namespace 'keyv' is the compat door's key space", async () => {
    const compat = await context([CacheModule.register({ tiercache: { redis: redis.url, prefix: 'cm-bridge' } })]);
    apps.push(compat);
    const native = await context([TierCacheModule.forRoot({ redis: redis.url, prefix: 'cm-bridge' })], []);
    apps.push(native);
    const manager = compat.get(Consumer).manager;
    await native.get(CacheService).set('keyv', 'user:1', { id: 1 });
    await expect(manager.get('user:1')).resolves.toEqual({ id: 1 });
    await manager.set('user:2', 'two');
    await expect(native.get(CacheService).get('keyv', 'user:2')).resolves.toBe('two');
    await native.get(CacheService).delete('keyv', 'user:1'); // the rolling-deploy bridge of docs/MIGRATION.md
    await waitFor(async () => (await manager.get('user:1')) === undefined, { message: 'the compat entry to go' });
  });

  it('several tiers (memory + Redis): writes reach both, a delete on one instance reaches the other', async () => {
    const options: CacheModuleOptions = { ttl: 60_000, max: 100, tiercache: { redis: redis.url, prefix: 'cm-tiers' } };
    const a = await open(options);
    const b = await open(options);
    expect(a.get(CacheService).stats().backend).toBe('tiered');
    const ma = a.get(Consumer).manager;
    const mb = b.get(Consumer).manager;
    await ma.set('k', 'v1');
    expect(a.get(CacheService).stats().memory?.entries).toBe(1); // the writer's memory tier
    // b reads a's write from Redis into its memory tier (again if a's own write message on the bus drops it first).
    await waitFor(
      async () =>
        (await mb.wrap('k', async () => 'from-source')) === 'v1' && b.get(CacheService).stats().memory?.entries === 1,
      { message: "a's write in b's memory tier" },
    );
    await ma.del('k');
    await waitFor(async () => (await mb.get('k')) === undefined, { message: "b's memory tier to drop k" });
  });

  it("the official multi-store controller over tiercache's own tiers (max + tiercache.redis, no stores)", async () => {
    @Controller()
    class MultiStoreController {
      constructor(@Inject(CACHE_MANAGER) private readonly cacheManager: Cache) {}

      @Get()
      async getFromMultiStore(): Promise<unknown> {
        const value = await this.cacheManager.get('multi-store-key');
        if (!value) await this.cacheManager.set('multi-store-key', 'multi-store-value');
        return value;
      }
    }
    const app = await bootHttp({
      imports: [
        CacheModule.registerAsync({
          useFactory: async () => ({ max: 5_000, ttl: 60_000, tiercache: { redis: redis.url, prefix: 'cm-multi' } }),
        }),
      ],
      controllers: [MultiStoreController],
    });
    try {
      await app.http().get('/').expect(200, '');
      await app.http().get('/').expect(200, 'multi-store-value');
      expect(await redis.command('EXISTS', 'cm-multi:keyv:multi-store-key')).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('nonBlocking: writes resolve while Redis is frozen; blocking ones wait until it answers', async () => {
    // A command timeout beyond the test's own: a write that waited for Redis could not resolve before the test fails.
    const tiercache = { redis: redis.url, commandTimeout: 120_000, breaker: { threshold: 100 } };
    const blocking = (await open({ tiercache: { ...tiercache, prefix: 'cm-block' } })).get(Consumer).manager;
    const nonBlocking = (await open({ nonBlocking: true, tiercache: { ...tiercache, prefix: 'cm-nb' } })).get(
      Consumer,
    ).manager;
    await Promise.all([blocking.set('warm', 1), nonBlocking.set('warm', 1)]); // both connected
    let blockingDone = false;
    let blockingWrite: Promise<unknown> | undefined;
    redis.freeze();
    try {
      await nonBlocking.set('k', 1);
      await nonBlocking.del('warm');
      blockingWrite = blocking.set('k', 1).then(() => (blockingDone = true));
      await new Promise((resolve) => setImmediate(resolve));
      expect(blockingDone).toBe(false);
    } finally {
      redis.thaw();
    }
    await blockingWrite;
    expect(blockingDone).toBe(true);
    // The background writes land once Redis answers.
    await waitFor(async () => (await redis.command('EXISTS', 'cm-nb:keyv:k')) === 1, { message: 'the write' });
    await waitFor(async () => (await nonBlocking.get('warm')) === undefined, { message: 'the delete' });
  });

  it('fails open: with Redis killed, get misses and wrap answers from the loader, no throw', async () => {
    const own = await RedisServer.start();
    const app = await open({ tiercache: { redis: own.url, prefix: 'cm-down', commandTimeout: 200 } });
    const { manager } = app.get(Consumer);
    await manager.set('k', 'v');
    await own.kill();
    await expect(manager.get('k')).resolves.toBeUndefined();
    await expect(manager.wrap('k', async () => 'from-source')).resolves.toBe('from-source');
    await expect(manager.set('k', 'v2')).resolves.toBe('v2');
    await own.stop();
  });

  describe('registration', () => {
    const TTL_SOURCE = 'TTL_SOURCE';

    @Injectable()
    class CacheConfig implements CacheOptionsFactory {
      createCacheOptions() {
        return { ttl: 4_000, tiercache: { prefix: 'cm-class' } };
      }
    }

    @Module({ providers: [CacheConfig], exports: [CacheConfig] })
    class ConfigModule {}

    const expiresWithin = async (app: INestApplicationContext, ms: number): Promise<void> => {
      const { manager } = app.get(Consumer);
      await manager.set('t', 1);
      const expires = (await manager.ttl('t')) ?? 0;
      expect(expires - Date.now()).toBeGreaterThan(ms - 1_000);
      expect(expires - Date.now()).toBeLessThanOrEqual(ms);
      await app.close();
    };

    it('register: ttl (ms); without one, 5 s as @nestjs/cache-manager (its default-ttl e2e)', async () => {
      await expiresWithin(await context([CacheModule.register({ ttl: 3_000 })]), 3_000);
      await expiresWithin(await context([CacheModule.register()]), 5_000);
    });

    it('registerAsync: useClass whose constructor injects one of the extraProviders, isGlobal', async () => {
      @Injectable()
      class TtlSource {
        getTtl(): number {
          return 1_500;
        }
      }
      @Injectable()
      class InjectedConfig implements CacheOptionsFactory {
        constructor(private readonly source: TtlSource) {}
        createCacheOptions(): CacheModuleOptions {
          return { ttl: this.source.getTtl() };
        }
      }
      const module = CacheModule.registerAsync({
        extraProviders: [TtlSource],
        isGlobal: true,
        useClass: InjectedConfig,
      });
      await expiresWithin(await context([module]), 1_500);
    });

    it('registerAsync: useFactory + inject + extraProviders', async () => {
      const module = CacheModule.registerAsync({
        extraProviders: [{ provide: TTL_SOURCE, useValue: 2_000 }],
        inject: [TTL_SOURCE],
        useFactory: (ttl: number) => ({ ttl }),
      });
      await expiresWithin(await context([module]), 2_000);
    });

    it('registerAsync: useClass and useExisting (with imports)', async () => {
      await expiresWithin(await context([CacheModule.registerAsync({ useClass: CacheConfig })]), 4_000);
      await expiresWithin(
        await context([CacheModule.registerAsync({ imports: [ConfigModule], useExisting: CacheConfig })]),
        4_000,
      );
    });

    it('isGlobal: a feature module injects CACHE_MANAGER without importing the module', async () => {
      @Module({ providers: [Consumer], exports: [Consumer] })
      class FeatureModule {}
      const app = await context([CacheModule.register({ isGlobal: true }), FeatureModule], []);
      expect(app.get(Consumer).manager).toBeDefined();
      await app.close();
      // And without isGlobal the same feature module cannot resolve it.
      await expect(context([CacheModule.register({}), FeatureModule], [])).rejects.toThrow(/CACHE_MANAGER/);
    });
  });

  describe('options that cannot be honoured stop the boot, naming the tiercache option', () => {
    it.each<[string, CacheModuleOptions, RegExp]>([
      [
        'stores holding something that is not a store',
        { stores: [{ get: () => undefined }] },
        /"stores" item 0 = an object is not a store.*Fix: pass a Keyv instance.*tiercache: \{ redis: /,
      ],
      [
        'store + host (cache-manager 5 style)',
        { store: 'redis', host: 'h' } as CacheModuleOptions,
        /"store".*tiercache: \{ redis:/,
      ],
      ['an unknown option', { bogus: 1 } as CacheModuleOptions, /"bogus" is not supported.*tiercache: \{/],
      ['ttl 0', { ttl: 0 }, /"ttl" = 0 is not a TTL.*defaultTtl/],
      [
        'ttl and tiercache.defaultTtl',
        { ttl: 1_000, tiercache: { defaultTtl: '1m' } },
        /"ttl" and "tiercache.defaultTtl"/,
      ],
      ['refreshThreshold without ttl', { refreshThreshold: 1_000 }, /refreshThreshold.*eagerRefresh/],
    ])('%s', async (_name, options, message) => {
      expect(await bootError(options)).toMatch(message);
    });

    it('refreshThreshold with a ttl becomes eagerRefresh', async () => {
      const app = await context([CacheModule.register({ ttl: 10_000, refreshThreshold: 2_000 })]);
      await app.close();
    });
  });
});

describe('GraphQL resolver handlers', () => {
  it('@Cached on a resolver handler (@Query metadata) is refused at boot with the fix', async () => {
    @Injectable()
    class UsersResolver {
      @Cached({ namespace: 'user', key: (id: number) => id })
      async user(id: number): Promise<{ id: number }> {
        return { id };
      }
    }
    // What @nestjs/graphql's @Query() writes on the method, applied by hand (the package is not installed here).
    Reflect.defineMetadata('graphql:resolver_type', 'Query', UsersResolver.prototype.user);
    const moduleRef = await Test.createTestingModule({
      imports: [CacheModule.register()],
      providers: [UsersResolver],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    const boot = app.init();
    await expect(boot).rejects.toThrow(CacheError);
    await expect(boot).rejects.toThrow(
      /UsersResolver#user: cache decorators on GraphQL resolver methods.*Fix: move the cached logic into a provider/,
    );
    await app.close().catch(() => undefined);
  });
});
