import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Injectable, Module } from '@nestjs/common';
import type { INestApplicationContext, Type } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import { Cached, CacheEvents, CacheModule, CacheService } from 'nestjs-tiercache';
import type { CacheInvalidatedEvent, CacheModuleOptions, CacheOptionsFactory } from 'nestjs-tiercache';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { entryKey } from '../support/cache-internals.js';

@Injectable()
class OptionsFactory implements CacheOptionsFactory {
  createCacheOptions(): CacheModuleOptions {
    return { prefix: 'from-class', defaultTtl: '2m' };
  }
}

@Module({ providers: [OptionsFactory], exports: [OptionsFactory] })
class OptionsModule {}

@Injectable()
class Counter {
  calls = 0;
  @Cached({ namespace: 'count', key: (id: number) => id })
  async get(id: number): Promise<number> {
    this.calls++;
    return id * 2;
  }
}

async function boot(
  imports: unknown[],
  providers: Type[] = [],
  controllers: Type[] = [],
): Promise<INestApplicationContext> {
  const ref = await Test.createTestingModule({ imports: imports as never[], providers, controllers }).compile();
  const app = ref.createNestApplication({ logger: false });
  await app.init();
  return app;
}

describe('CacheModule.forRootAsync', () => {
  it('useFactory + inject + imports, useClass and useExisting all configure the module', async () => {
    const viaFactory = await boot(
      [
        CacheModule.forRootAsync({
          imports: [OptionsModule],
          inject: [OptionsFactory],
          useFactory: (f: OptionsFactory) => ({ ...f.createCacheOptions(), prefix: 'from-factory' }),
          isGlobal: true,
        }),
      ],
      [Counter],
    );
    const viaClass = await boot([CacheModule.forRootAsync({ useClass: OptionsFactory, isGlobal: true })], [Counter]);
    const viaExisting = await boot(
      [CacheModule.forRootAsync({ imports: [OptionsModule], useExisting: OptionsFactory, isGlobal: true })],
      [Counter],
    );
    for (const [app, prefix] of [
      [viaFactory, 'from-factory'],
      [viaClass, 'from-class'],
      [viaExisting, 'from-class'],
    ] as const) {
      expect(entryKey(app, 'count', 1)).toBe(`${prefix}:count:=n1`);
      const counter = app.get(Counter);
      await counter.get(1);
      await counter.get(1);
      expect(counter.calls).toBe(1);
      await app.close();
    }
  });

  it('a bad option stops boot, naming the option and the value', async () => {
    await expect(boot([CacheModule.forRoot({ prefix: 'a:b' })])).rejects.toThrow(/"prefix" = "a:b"/);
    await expect(boot([CacheModule.forRootAsync({ useFactory: () => ({ defaultTtl: 'soon' }) })])).rejects.toThrow(
      /"defaultTtl" = "soon"/,
    );
  });
});

describe('misuse fails at boot with Class#method and the fix', () => {
  @Controller('c')
  class CachedController {
    @Get()
    @Cached({ namespace: 'c' })
    async list(): Promise<string[]> {
      return [];
    }
  }

  @Injectable()
  class SyncMethod {
    // A plain JS caller could decorate a sync method (TypeScript refuses it at compile time).
    list(): string[] {
      return [];
    }
  }
  Reflect.decorate(
    [Cached({ namespace: 's' }) as MethodDecorator],
    SyncMethod.prototype,
    'list',
    Object.getOwnPropertyDescriptor(SyncMethod.prototype, 'list'),
  );
  Reflect.defineMetadata('design:returntype', Array, SyncMethod.prototype, 'list');

  @Injectable()
  class TwoDefaults {
    @Cached({ namespace: 'shared' })
    async a(id: number): Promise<number> {
      return id;
    }
    @Cached({ namespace: 'shared' })
    async b(id: number): Promise<number> {
      return -id;
    }
  }

  @Injectable()
  class NeedsEvents {
    @Cached({ namespace: 'ev', key: (id: number) => id, invalidateOn: { 'x.changed': (e: { id: number }) => e.id } })
    async get(id: number): Promise<number> {
      return id;
    }
  }

  @Injectable()
  class BadNamespace {
    @Cached({ namespace: 'user:*' })
    async get(): Promise<number> {
      return 1;
    }
  }

  it.each([
    [
      'a controller method',
      [CacheModule.forRoot({})],
      [],
      [CachedController],
      /CachedController#list: cache decorators on controller methods are not supported.*Fix: move the cached logic into a provider/,
    ],
    [
      'a sync method',
      [CacheModule.forRoot({})],
      [SyncMethod],
      [],
      /SyncMethod#list: a cached method must return a Promise.*Fix: make the method async/,
    ],
    [
      'two default-keyed methods in one namespace',
      [CacheModule.forRoot({})],
      [TwoDefaults],
      [],
      /TwoDefaults#a and TwoDefaults#b both cache into namespace "shared"/,
    ],
    [
      'invalidateOn without EventEmitterModule',
      [CacheModule.forRoot({})],
      [NeedsEvents],
      [],
      /NeedsEvents#get: invalidateOn needs @nestjs\/event-emitter.*EventEmitterModule.forRoot/,
    ],
    [
      'a namespace with glob characters',
      [CacheModule.forRoot({})],
      [BadNamespace],
      [],
      /BadNamespace#get: .*namespace "user:\*"/,
    ],
  ] as [string, unknown[], Type[], Type[], RegExp][])('%s', async (_name, imports, providers, controllers, message) => {
    await expect(boot(imports, providers, controllers)).rejects.toThrow(message);
  });
});

describe('module events and TTLs', () => {
  let redis: RedisServer;
  let app: INestApplicationContext;
  const seen: { event: string; payload: unknown }[] = [];

  @Injectable()
  class Listener {
    @OnEvent('tiercache.*')
    onCache(payload: unknown): void {
      seen.push({ event: 'any', payload });
    }
  }

  beforeAll(async () => {
    redis = await RedisServer.start();
    app = await boot(
      [
        EventEmitterModule.forRoot({ wildcard: true }),
        CacheModule.forRoot({ prefix: 'events', redis: redis.url, commandTimeout: 200, isGlobal: true }),
      ],
      [Listener],
    );
  });
  afterAll(async () => {
    await app.close();
    await redis.stop();
  });

  it('emits tiercache.invalidated, backend.down and backend.up', async () => {
    const events = app.get(EventEmitter2);
    const got: Record<string, unknown[]> = {};
    for (const name of Object.values(CacheEvents)) events.on(name, (p: unknown) => (got[name] ??= []).push(p));
    const cache = app.get(CacheService);
    await cache.delete('user', 42);
    expect(got[CacheEvents.invalidated]).toEqual([
      { namespace: 'user', keys: ['events:user:=n42'], origin: 'local' } satisfies CacheInvalidatedEvent,
    ]);
    await redis.kill();
    await waitFor(() => (got[CacheEvents.backendDown]?.length ?? 0) > 0, { message: 'backend.down' });
    await redis.restart();
    await waitFor(() => (got[CacheEvents.backendUp]?.length ?? 0) > 0, { timeoutMs: 10_000, message: 'backend.up' });
    expect(JSON.stringify(got)).not.toMatch(/127\.0\.0\.1:\d+/);
  });

  it('TTL: per call beats namespace beats default; a function of the value; jitter stays within its fraction', async () => {
    const ttlApp = await boot([
      CacheModule.forRoot({
        prefix: 'ttl',
        redis: redis.url,
        defaultTtl: '1h',
        namespaces: { short: { ttl: '10s' }, jittered: { ttl: '100s', jitter: 0.5 } },
        isGlobal: true,
      }),
    ]);
    const cache = ttlApp.get(CacheService);
    const pttl = async (key: string) => Number(await redis.command('PTTL', key));
    await cache.set('plain', 'a', 1);
    await cache.set('short', 'a', 1);
    await cache.set('short', 'b', 1, { ttl: '3s' });
    await cache.set(
      'short',
      'c',
      { until: Date.now() + 5_000 },
      { ttl: (v: { until: number }) => v.until - Date.now() },
    );
    expect(await pttl('ttl:plain:a')).toBeGreaterThan(3_590_000);
    expect(await pttl('ttl:short:a')).toBeLessThanOrEqual(10_000);
    expect(await pttl('ttl:short:a')).toBeGreaterThan(9_000);
    expect(await pttl('ttl:short:b')).toBeLessThanOrEqual(3_000);
    expect(await pttl('ttl:short:c')).toBeLessThanOrEqual(5_000);
    expect(await pttl('ttl:short:c')).toBeGreaterThan(3_000);
    const ttls: number[] = [];
    for (let i = 0; i < 50; i++) {
      await cache.set('jittered', `k${i}`, i);
      ttls.push(await pttl(`ttl:jittered:k${i}`));
    }
    expect(Math.min(...ttls)).toBeGreaterThan(99_000);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(150_000);
    expect(new Set(ttls.map((t) => Math.round(t / 1000))).size).toBeGreaterThan(5);
    await ttlApp.close();
  });
});
