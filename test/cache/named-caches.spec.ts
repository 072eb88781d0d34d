// Several caches in one app: CacheModule.forRoot({ name }) per cache, @Cached({ cache }) and @InjectCache(name) to
// pick one; each with its own prefix, backends and Redis; unknown or ambiguous names stop the boot; metrics and health
// label every cache.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Injectable, Module } from '@nestjs/common';
import type { INestApplication, Type } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import request from 'supertest';
import { Cached, CacheInvalidate, CacheModule, CacheService, getCacheToken, InjectCache } from 'nestjs-tiercache';
import { CacheHealthIndicator, CacheHealthModule, CacheStatsModule, CacheStatsReporter } from 'nestjs-tiercache/health';
import { CACHE_METRICS, CacheMetricsModule } from 'nestjs-tiercache/metrics';
import type { CacheMetrics } from 'nestjs-tiercache/metrics';
import { RedisServer } from '../harness/redis-server.js';
import { parseSamples, valueOf } from '../observability/observability-app.js';

@Injectable()
class SessionsRepo {
  loads = 0;
  @Cached({ cache: 'sessions', namespace: 'session' })
  async session(id: string): Promise<string> {
    this.loads++;
    return `session:${id}:${this.loads}`;
  }
}

@Injectable()
class CatalogueRepo {
  loads = 0;
  @Cached({ cache: 'catalogue', namespace: 'item' })
  async item(id: string): Promise<string> {
    this.loads++;
    return `item:${id}:${this.loads}`;
  }

  @CacheInvalidate({ cache: 'catalogue', namespace: 'item', key: (id: string) => id })
  async rename(id: string): Promise<string> {
    return id;
  }
}

@Injectable()
class DefaultRepo {
  loads = 0;
  @Cached({ namespace: 'plain' })
  async plain(id: string): Promise<string> {
    this.loads++;
    return `plain:${id}:${this.loads}`;
  }
}

/** Injects each cache by name, as an app service would. */
@Injectable()
class CacheUser {
  constructor(
    @InjectCache('sessions') readonly sessions: CacheService,
    @InjectCache('catalogue') readonly catalogue: CacheService,
    @InjectCache() readonly fallback: CacheService,
    readonly plain: CacheService,
  ) {}
}

@Controller()
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly cache: CacheHealthIndicator,
  ) {}

  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([() => this.cache.isHealthy('cache')]);
  }

  @Get('health/catalogue')
  @HealthCheck()
  catalogue() {
    return this.health.check([() => this.cache.isHealthy('catalogue', { cache: 'catalogue' })]);
  }
}

async function bootApp(
  imports: unknown[],
  providers: Type[] = [],
  controllers: Type[] = [],
): Promise<INestApplication> {
  const ref = await Test.createTestingModule({
    imports: [EventEmitterModule.forRoot(), ...(imports as never[])],
    providers,
    controllers,
  }).compile();
  const app = ref.createNestApplication({ logger: false });
  try {
    await app.init();
  } catch (err) {
    await app.close().catch(() => undefined);
    throw err;
  }
  return app;
}

describe('named caches', () => {
  let redis: RedisServer;
  let other: RedisServer;
  let app: INestApplication;
  let raw: Redis;
  const registry = new Registry();

  // Sessions: memory only, in its own module, not global. Catalogue: its own Redis, global. Default: a third Redis
  // and a memory tier.
  @Module({
    imports: [CacheModule.forRoot({ name: 'sessions', memory: { maxEntries: 100 } })],
    providers: [SessionsRepo],
    exports: [SessionsRepo, CacheModule],
  })
  class SessionsModule {}

  beforeAll(async () => {
    [redis, other] = await Promise.all([RedisServer.start(), RedisServer.start()]);
    raw = new Redis(redis.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
    @Module({
      imports: [
        SessionsModule,
        CacheModule.forRoot({ name: 'catalogue', redis: redis.url, isGlobal: true }),
        CacheModule.forRootAsync({ useFactory: () => ({ redis: other.url, memory: {} }), isGlobal: true }),
        TerminusModule,
        CacheHealthModule.forRoot(),
        CacheMetricsModule.forRoot({ registry, refreshInterval: 0 }),
      ],
      providers: [CatalogueRepo, DefaultRepo, CacheUser],
      controllers: [HealthController],
    })
    class AppModule {}
    app = await bootApp([AppModule]);
  });

  afterAll(async () => {
    await app?.close();
    raw?.disconnect();
    await Promise.all([redis?.stop(), other?.stop()]);
  });

  it('caches each method in the cache its decorator names, under that cache prefix', async () => {
    const catalogue = app.get(CatalogueRepo);
    const sessions = app.get(SessionsRepo);
    const plain = app.get(DefaultRepo);
    const users = app.get(CacheUser);

    expect(await catalogue.item('a')).toBe('item:a:1');
    expect(await catalogue.item('a')).toBe('item:a:1');
    expect(await sessions.session('s')).toBe('session:s:1');
    expect(await sessions.session('s')).toBe('session:s:1');
    expect(await plain.plain('p')).toBe('plain:p:1');
    expect(await plain.plain('p')).toBe('plain:p:1');
    expect([catalogue.loads, sessions.loads, plain.loads]).toEqual([1, 1, 1]);

    // Each entry is in its own cache only.
    expect(await users.catalogue.get('item', 'a')).toBe('item:a:1');
    expect(await users.sessions.get('item', 'a')).toBeUndefined();
    expect(await users.plain.get('item', 'a')).toBeUndefined();
    expect(await users.sessions.get('session', 's')).toBe('session:s:1');
    expect(await users.catalogue.get('session', 's')).toBeUndefined();
    expect(await users.plain.get('plain', 'p')).toBe('plain:p:1');
    expect(await users.catalogue.get('plain', 'p')).toBeUndefined();

    // The catalogue's Redis holds its entry under the prefix that defaults to the cache's name, and nothing else.
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await raw.scan(cursor, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    expect(keys.filter((k) => !k.startsWith('catalogue:'))).toEqual([]);
    expect(keys.some((k) => k.startsWith('catalogue:item'))).toBe(true);
  });

  it('invalidates in the named cache', async () => {
    const catalogue = app.get(CatalogueRepo);
    await catalogue.item('b');
    await catalogue.rename('b');
    expect(await catalogue.item('b')).toBe(`item:b:${catalogue.loads}`);
    expect(catalogue.loads).toBeGreaterThanOrEqual(2);
    const before = catalogue.loads;
    await catalogue.item('b');
    expect(catalogue.loads).toBe(before);
  });

  it('injects each cache by name, the default one as CacheService, and resolves tokens for app.get', () => {
    const users = app.get(CacheUser);
    expect(users.fallback).toBe(users.plain);
    expect(users.sessions).not.toBe(users.catalogue);
    expect(users.sessions).not.toBe(users.plain);
    expect(app.get(getCacheToken('catalogue'))).toBe(users.catalogue);
    expect(app.get(getCacheToken())).toBe(users.plain);
    expect(users.sessions.stats().backend).toBe('memory');
    expect(users.catalogue.stats().backend).toBe('redis');
    expect(users.plain.stats().backend).toBe('tiered');
    expect(() => getCacheToken('bad name')).toThrow(/cache name "bad name" must match/);
    expect(() => getCacheToken('__x')).toThrow(/cache name/);
  });

  it('labels every metric series with its cache', async () => {
    await app.get<CacheMetrics>(CACHE_METRICS).refresh();
    const samples = parseSamples(await registry.metrics());
    expect(valueOf(samples, 'cache_hits_total', { cache: 'catalogue', namespace: 'item' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'cache_hits_total', { cache: 'sessions', namespace: 'session' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'cache_hits_total', { cache: 'default', namespace: 'plain' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'cache_hits_total', { cache: 'sessions', namespace: 'item' })).toBe(0);
    for (const cache of ['catalogue', 'default', 'sessions']) {
      expect(valueOf(samples, 'cache_enabled', { cache })).toBe(1);
    }
    expect(valueOf(samples, 'cache_redis_connected', { cache: 'catalogue' })).toBe(1);
    expect(valueOf(samples, 'cache_redis_connected', { cache: 'sessions' })).toBe(0);
    expect(samples.filter((s) => s.name === 'cache_hits_total' && s.labels.cache === undefined)).toEqual([]);
    const latency = samples.filter((s) => s.name === 'cache_operation_duration_seconds_count');
    expect(new Set(latency.map((s) => s.labels.cache))).toEqual(new Set(['catalogue', 'default', 'sessions']));
  });

  it('reports every cache in health, and one cache on request; a dead Redis degrades only its cache', async () => {
    const all = await request(app.getHttpServer()).get('/health').expect(200);
    expect(all.body.details.cache.mode).toBe('up');
    expect(Object.keys(all.body.details.cache.caches).sort()).toEqual(['catalogue', 'default', 'sessions']);
    expect(all.body.details.cache.caches.sessions).toMatchObject({ cache: 'sessions', backend: 'memory', mode: 'up' });

    await other.stop();
    const degraded = await request(app.getHttpServer()).get('/health').expect(200);
    expect(degraded.body.details.cache.mode).toBe('degraded');
    expect(degraded.body.details.cache.caches.default).toMatchObject({ mode: 'degraded', redis: { connected: false } });
    expect(degraded.body.details.cache.caches.catalogue).toMatchObject({ mode: 'up', redis: { connected: true } });
    const one = await request(app.getHttpServer()).get('/health/catalogue').expect(200);
    expect(one.body.details.catalogue).toMatchObject({ cache: 'catalogue', mode: 'up' });
    // The catalogue still caches while the default cache's Redis is gone.
    const catalogue = app.get(CatalogueRepo);
    const before = catalogue.loads;
    await catalogue.item('a');
    expect(catalogue.loads).toBe(before);
  });
});

describe('named caches: what stops the boot', () => {
  it('a decorator naming a cache no forRoot registers, with the registered names and the fix', async () => {
    await expect(
      bootApp([CacheModule.forRoot({ name: 'sessions' }), CacheModule.forRoot({ isGlobal: true })], [CatalogueRepo]),
    ).rejects.toThrow(
      /CatalogueRepo#item: no cache is named "catalogue" \(this app registers "default", "sessions"\).*Fix: register it with CacheModule\.forRoot\(\{ name: 'catalogue'/,
    );
  });

  it('decorators of one method naming different caches', async () => {
    @Injectable()
    class Mixed {
      @Cached({ cache: 'a', namespace: 'x', key: (id: string) => id })
      @CacheInvalidate({ cache: 'b', namespace: 'y', key: (id: string) => id })
      async get(id: string): Promise<string> {
        return id;
      }
    }
    await expect(
      bootApp([CacheModule.forRoot({ name: 'a' }), CacheModule.forRoot({ name: 'b' })], [Mixed]),
    ).rejects.toThrow(/Mixed#get: the cache decorators of one method name different caches \("a", "b"\)/);
  });

  it('the same name registered twice', async () => {
    await expect(
      bootApp([
        CacheModule.forRoot({ name: 'twice', prefix: 'p1' }),
        CacheModule.forRoot({ name: 'twice', prefix: 'p2' }),
      ]),
    ).rejects.toThrow(/registers the cache "twice" 2 times/);
  });

  it('two unnamed forRoot when a decorated method uses the default cache (never a silent mix)', async () => {
    @Module({ imports: [CacheModule.forRoot({ prefix: 'a' })], providers: [DefaultRepo] })
    class A {}
    @Module({ imports: [CacheModule.forRoot({ prefix: 'b', enabled: false })] })
    class B {}
    await expect(bootApp([A, B])).rejects.toThrow(
      /DefaultRepo#plain: the app imports CacheModule\.forRoot 2 times without a name.*Fix: name the caches/,
    );
  });

  it('a bad name, naming the option; a name inside a factory result', async () => {
    await expect(bootApp([CacheModule.forRoot({ name: 'no spaces' })])).rejects.toThrow(
      /invalid option "name" = "no spaces"/,
    );
    await expect(bootApp([CacheModule.forRoot({ name: '__x' })])).rejects.toThrow(/invalid option "name"/);
    await expect(bootApp([CacheModule.forRootAsync({ useFactory: () => ({ name: 'x' }) as never })])).rejects.toThrow(
      /invalid option "name".*beside the factory/,
    );
  });

  it('a non-string cache option', async () => {
    @Injectable()
    class Odd {
      @Cached({ cache: 42 as unknown as string, namespace: 'odd' })
      async get(id: string): Promise<string> {
        return id;
      }
    }
    await expect(bootApp([CacheModule.forRoot({})], [Odd])).rejects.toThrow(/Odd#get: option "cache" must be the name/);
  });
});

describe('named caches: isolation and flags', () => {
  it('a disabled named cache leaves its methods uncached while the other caches cache (either way round)', async () => {
    for (const [sessionsOn, catalogueOn] of [
      [true, false],
      [false, true],
    ] as const) {
      @Module({
        imports: [CacheModule.forRoot({ name: 'sessions', enabled: sessionsOn })],
        providers: [SessionsRepo],
      })
      class Sessions {}
      @Module({
        imports: [CacheModule.forRoot({ name: 'catalogue', enabled: catalogueOn })],
        providers: [CatalogueRepo],
      })
      class Catalogue {}
      const app = await bootApp([Sessions, Catalogue]);
      try {
        const s = app.get(SessionsRepo);
        const c = app.get(CatalogueRepo);
        await s.session('x');
        await s.session('x');
        await c.item('x');
        await c.item('x');
        expect(s.loads).toBe(sessionsOn ? 1 : 2);
        expect(c.loads).toBe(catalogueOn ? 1 : 2);
      } finally {
        await app.close();
      }
    }
  });

  it('a named cache with forRootAsync({ name }) and injection from a module that imports it', async () => {
    @Injectable()
    class Reader {
      constructor(@InjectCache('async') readonly cache: CacheService) {}
    }
    @Module({
      imports: [CacheModule.forRootAsync({ name: 'async', useFactory: () => ({ defaultTtl: '1m' }) })],
      providers: [Reader],
    })
    class Feature {}
    const app = await bootApp([Feature]);
    try {
      const reader = app.get(Reader);
      await reader.cache.set('n', 'k', 1);
      expect(await reader.cache.get('n', 'k')).toBe(1);
      expect(app.get(getCacheToken('async'), { strict: false })).toBe(reader.cache);
    } finally {
      await app.close();
    }
  });

  it('CacheStatsModule reports the cache it names (an app with named caches only); an unknown name stops the boot', async () => {
    @Module({
      imports: [
        CacheModule.forRoot({ name: 'stats', isGlobal: true }),
        CacheStatsModule.register({ cache: 'stats', path: false }),
      ],
    })
    class Feature {}
    const app = await bootApp([Feature]);
    try {
      await app.get<CacheService>(getCacheToken('stats')).set('seen', 'k', 1);
      const report = await app.get(CacheStatsReporter).report();
      expect(report.backend).toBe('memory');
      expect(report.redis).toBeNull();
      expect(report.namespaces.seen?.sets).toBe(1);
    } finally {
      await app.close();
    }
    await expect(
      bootApp([CacheModule.forRoot({ isGlobal: true }), CacheStatsModule.register({ cache: 'nope', path: false })]),
    ).rejects.toThrow(/CacheStatsModule: no cache is named "nope" \(this app registers "default"\)/);
    expect(() => CacheStatsModule.register({ cache: 'no spaces' })).toThrow(/cache name "no spaces"/);
  });

  it('a named cache does not stand in for CacheService: only the default cache does', async () => {
    @Injectable()
    class WantsDefault {
      constructor(readonly cache: CacheService) {}
    }
    @Module({ imports: [CacheModule.forRoot({ name: 'only' })], providers: [WantsDefault] })
    class Feature {}
    await expect(bootApp([Feature])).rejects.toThrow(/CacheService/);
  });
});
