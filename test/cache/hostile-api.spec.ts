// Nothing outside the prefix, whatever a caller passes (issue "Core reshaped", item 2): every public method of every
// class the package exports (root, /metrics, /health) is called with hostile namespaces, keys, tags, prefixes and
// options against a real Redis holding foreign keys, another app's prefix and a look-alike prefix. Afterwards every
// key outside `hostile:` is byte-for-byte what it was (DUMP), with its TTL; errors, when a call is refused, are
// CacheErrors with a code. The published class also carries exactly the documented methods (no engine on it).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Injectable, Module } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import { TerminusModule } from '@nestjs/terminus';
import { Redis } from 'ioredis';
import * as root from 'nestjs-tiercache';
import { CacheError, CacheModule, CacheService } from 'nestjs-tiercache';
import * as compat from 'nestjs-tiercache/compat';
import * as health from 'nestjs-tiercache/health';
import * as metrics from 'nestjs-tiercache/metrics';
import { Registry } from 'prom-client';
import { RedisServer } from '../harness/redis-server.js';

const PREFIX = 'hostile';
const TEN_KB = 'k'.repeat(10 * 1024);
const HOSTILE_NAMES: unknown[] = [
  '*',
  ':',
  '..',
  'foreign:key',
  TEN_KB,
  '__proto__',
  '',
  '__tag',
  'a*',
  'x?y',
  '[a-z]',
  'user',
];
const HOSTILE_KEYS: unknown[] = [
  '*',
  ':',
  '..',
  'foreign:key',
  'session:abc',
  TEN_KB,
  '__proto__',
  '',
  '\\',
  '#',
  '=',
  '\uD800',
  '\uFFFD',
  ['*', 'foreign:key'],
  { __proto__: { polluted: true } },
  42,
  null,
  undefined,
];
const HOSTILE_OPTIONS: unknown[] = [
  undefined,
  { tags: ['*', 'foreign:key', '__proto__', TEN_KB.slice(0, 256)] },
  { tags: 'foreign:key' },
  { ttl: -1 },
  { ttl: 'forever' },
  { maxLength: 0 },
  { maxLength: 2, ttl: '1m' },
  { once: 'foreign:key' },
  [] as unknown[],
];

/** Documented public methods of CacheService (a new one must be added here, and to the README, deliberately). */
const CACHE_SERVICE_API = [
  'append',
  'clearNamespace',
  'delete',
  'get',
  'getList',
  'getOrSet',
  'getOrSetList',
  'invalidatePrefix',
  'invalidateTags',
  'onModuleDestroy',
  'set',
  'setList',
  'stats',
  'update',
  'warm',
  'warmAll',
];

@Injectable()
class Probe {
  @root.Cached({ namespace: 'user', key: (id: unknown) => id as string })
  async user(id: unknown): Promise<string> {
    return `user:${String(id)}`;
  }
}

@Controller()
class Nothing {
  @Get()
  ok(): string {
    return 'ok';
  }
}

@Module({ controllers: [Nothing] })
class Empty {}

let redis: RedisServer;
let client: Redis;
let app: INestApplication;

/** Every key outside our prefix: its type, DUMP and TTL. */
async function foreignSnapshot(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await client.scanBuffer(cursor, 'COUNT', 1000);
    cursor = next.toString();
    for (const keyBuf of keys) {
      const key = keyBuf.toString('latin1');
      if (key.startsWith(`${PREFIX}:`)) continue;
      const [dump, ttl] = await Promise.all([client.dumpBuffer(keyBuf), client.pttl(keyBuf)]);
      out.set(key, `${dump?.toString('base64') ?? 'gone'}|${ttl > 0 ? 'ttl' : String(ttl)}`);
    }
  } while (cursor !== '0');
  return out;
}

async function seedForeign(): Promise<void> {
  await client.set('session:abc', 'secret-session');
  await client.set('foreign:key', 'foreign', 'PX', 3_600_000);
  await client.set('*', 'star');
  await client.set(':', 'colon');
  await client.set('..', 'dots');
  await client.set('__proto__', 'proto');
  await client.hset('foreign:hash', 'a', '1');
  await client.rpush('foreign:list', 'a', 'b');
  await client.sadd(`other:__tag:foreign:key`, 'other:user:1');
  await client.set('other:user:42', 'other app');
  await client.set(`${PREFIX}x:user:42`, 'look-alike prefix');
  await client.set(`${PREFIX.toUpperCase()}:user:42`, 'case look-alike');
  await client.set('hostile', 'bare prefix name');
}

/** Calls `fn` and lets it refuse: a refusal must be a CacheError with a code (or a plain TypeError for a non-object). */
async function attempt(fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof CacheError)) throw err;
    expect(typeof err.code).toBe('string');
  }
}

/** Argument lists for a method of arity n, built from the hostile values (bounded: a few hundred per method). */
function argLists(arity: number): unknown[][] {
  const lists: unknown[][] = [[]];
  const loader = (): string => 'loaded';
  for (const ns of HOSTILE_NAMES) {
    if (arity <= 1) {
      lists.push([ns], [HOSTILE_KEYS]);
      continue;
    }
    for (const key of HOSTILE_KEYS) {
      if (arity === 2) {
        lists.push([ns, key]);
        continue;
      }
      for (const third of [loader, 'value', ['item'], (c: unknown) => c]) {
        const base = [ns, key, third];
        if (arity === 3) lists.push(base);
        else for (const opt of HOSTILE_OPTIONS) lists.push([...base, opt]);
      }
    }
  }
  return lists;
}

beforeAll(async () => {
  redis = await RedisServer.start();
  client = new Redis({ host: redis.host, port: redis.port, lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  await seedForeign();
  const moduleRef = await Test.createTestingModule({
    imports: [
      EventEmitterModule.forRoot(),
      CacheModule.forRoot({ prefix: PREFIX, redis: redis.url, memory: { maxEntries: 1_000 }, isGlobal: true }),
      metrics.CacheMetricsModule.forRoot({ registry: new Registry() }),
      TerminusModule.forRoot({ logger: false }),
      health.CacheHealthModule.forRoot(),
      health.CacheStatsModule.register({ path: 'cache/stats' }),
      Empty,
    ],
    providers: [Probe],
  }).compile();
  app = moduleRef.createNestApplication({ logger: false });
  await app.init();
}, 60_000);

afterAll(async () => {
  await app?.close();
  client?.disconnect();
  await redis?.stop();
});

describe('hostile calls on every public method never touch a key outside the prefix', () => {
  it('CacheService carries exactly the documented API (the engine is not on it)', () => {
    const names = Object.getOwnPropertyNames(CacheService.prototype).filter(
      (n) =>
        n !== 'constructor' && typeof Object.getOwnPropertyDescriptor(CacheService.prototype, n)?.value === 'function',
    );
    expect(names.sort()).toEqual(CACHE_SERVICE_API);
    const cache = app.get(CacheService);
    // No enumerable or string-keyed own state to reach the engine through.
    expect(Object.getOwnPropertyNames(cache)).toEqual([]);
    expect(Object.keys(root).sort()).toEqual(
      [
        'CacheError',
        'CacheEvents',
        'CacheInvalidate',
        'CacheModule',
        'CachePut',
        'CacheService',
        'Cached',
        'InjectCache',
        'WarmUp',
        'composeKey',
        'getCacheToken',
      ].sort(),
    );
  });

  it('every method of every exported class, with hostile namespaces, keys, tags and options', async () => {
    const before = await foreignSnapshot();
    expect(before.size).toBeGreaterThanOrEqual(12);
    const exported = { ...root, ...metrics, ...health } as Record<string, unknown>;
    let calls = 0;
    for (const [name, value] of Object.entries(exported)) {
      if (typeof value !== 'function' || !value.prototype) continue;
      const cls = value as (new (...args: never[]) => object) & Record<string, unknown>;
      // Static methods (module builders): called for their side effects (there must be none outside the prefix).
      for (const method of Object.getOwnPropertyNames(cls)) {
        const fn = cls[method];
        if (typeof fn !== 'function' || ['length', 'name', 'prototype'].includes(method)) continue;
        for (const args of argLists(Math.min((fn as () => unknown).length, 2)).slice(0, 50)) {
          calls++;
          await attempt(() => (fn as (...a: unknown[]) => unknown).apply(cls, args));
        }
      }
      // Instance methods, on the instance the app holds (the injectables).
      let instance: Record<string, unknown> | undefined;
      try {
        instance = app.get(cls as never, { strict: false }) as Record<string, unknown>;
      } catch {
        instance = undefined; // not an injectable of this app (a module class, an error class): statics only
      }
      if (!instance) continue;
      for (const method of Object.getOwnPropertyNames(cls.prototype)) {
        if (method === 'constructor' || method === 'onModuleDestroy' || method === 'onApplicationShutdown') continue;
        const fn = instance[method];
        if (typeof fn !== 'function') continue;
        for (const args of argLists((fn as () => unknown).length)) {
          calls++;
          await attempt(() => (fn as (...a: unknown[]) => unknown).apply(instance, args));
        }
      }
      expect(name).toBeTruthy();
    }
    // The decorated method too: hostile ids through @Cached.
    const probe = app.get(Probe);
    for (const key of HOSTILE_KEYS) await attempt(() => probe.user(key));
    expect(calls).toBeGreaterThan(1_000);
    const after = await foreignSnapshot();
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [key, state] of before) expect({ key, state: after.get(key) }).toEqual({ key, state });
    // And nothing was polluted.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  }, 240_000);
});

describe('the compat door: hostile keys through CACHE_MANAGER never touch a key outside the prefix', () => {
  it('every method of the cache-manager API, with hostile keys, values and TTLs', async () => {
    const before = await foreignSnapshot();
    const moduleRef = await Test.createTestingModule({
      imports: [compat.CacheModule.register({ isGlobal: true, tiercache: { prefix: PREFIX, redis: redis.url } })],
    }).compile();
    const compatApp = moduleRef.createNestApplication({ logger: false });
    await compatApp.init();
    try {
      const manager = compatApp.get(compat.CACHE_MANAGER) as unknown as Record<string, unknown>;
      const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(manager)).filter(
        (n) => n !== 'constructor' && typeof manager[n] === 'function',
      );
      expect(methods.length).toBeGreaterThanOrEqual(9);
      let calls = 0;
      for (const method of methods) {
        if (method === 'disconnect') continue;
        const fn = manager[method] as (...a: unknown[]) => unknown;
        for (const key of HOSTILE_KEYS) {
          for (const args of [[key], [key, 'v'], [key, 'v', -1], [[key]], [[{ key, value: 'v' }]], [key, () => 'v']]) {
            calls++;
            await attempt(() => fn.apply(manager, args));
          }
        }
      }
      expect(calls).toBeGreaterThan(500);
    } finally {
      await compatApp.close();
    }
    const after = await foreignSnapshot();
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [key, state] of before) expect({ key, state: after.get(key) }).toEqual({ key, state });
  }, 120_000);
});
