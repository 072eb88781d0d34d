// Drill 19 — poisoned and oversized entries written straight into Redis under our keys, met through decorated
// methods and cached lists: truncated data, `__proto__` payloads, wrong Redis types (hash, set or list where a
// string is expected; string or hash where a list is expected), old/unknown schema versions, a list without our
// header, 50 MB values. Each is a miss, overwritten by the next load, with 0 errors surfaced and no prototype
// pollution; oversized values are refused on write (namespace maxValueBytes) and skipped on read. One of our own
// value entries read as a list is no poison but the caller's mistake: E_KIND_MISMATCH, and the entry stays.
// (test/backends/redis-values.spec.ts covers CacheService.get on poisoned strings; this is the decorator and list path.)
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { Redis } from 'ioredis';
import { Cached, CacheService } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { decodeEntry, encodeEntry, ENTRY_LAYOUT } from '../../libs/cache/src/codec/entry.codec.js';
import { encodeValue } from '../../libs/cache/src/codec/value.codec.js';
import { bootCache } from '../cache/fixtures.js';
import { RedisServer } from '../harness/redis-server.js';
import { reportDrill } from './support/processes.js';
import { entryKey } from '../support/cache-internals.js';

// Real servers, processes and fault injection: slower than a unit test, especially on a loaded machine.
jest.setTimeout(60_000);

const MAX_VALUE_BYTES = 64 * 1024;
const FIFTY_MB = 50 * 1024 * 1024;

type Product = { id: string; name: string; price: number };

@Injectable()
class Catalog {
  loads = 0;

  @Cached({ namespace: 'product', key: (id: string) => id })
  async product(id: string): Promise<Product> {
    this.loads++;
    return { id, name: `product ${id}`, price: 10 };
  }

  /** Namespace `blob` has maxValueBytes = 64 KB. */
  @Cached({ namespace: 'blob', key: (id: string) => id })
  async blob(id: string, size: number): Promise<string> {
    this.loads++;
    return 'b'.repeat(size);
  }
}

const now = (): number => Date.now();
const validEnvelope = (value: unknown): Buffer => encodeEntry({ value, createdAt: now(), expiresAt: now() + 60_000 });
const withVersion = (version: number): Buffer => {
  const buf = validEnvelope({ id: 'x', name: 'old schema', price: 1 });
  buf[1] = version;
  return buf;
};
/** An envelope (valid header and length) around arbitrary payload bytes. */
const envelopeAround = (payload: Buffer): Buffer => {
  const buf = Buffer.alloc(ENTRY_LAYOUT.value + payload.length);
  buf[0] = 0x54;
  buf[1] = 0x01;
  buf.writeDoubleBE(now(), ENTRY_LAYOUT.createdAt);
  buf.writeDoubleBE(now() + 60_000, ENTRY_LAYOUT.expiresAt);
  buf.writeUInt32BE(payload.length, ENTRY_LAYOUT.valueLength);
  payload.copy(buf, ENTRY_LAYOUT.value);
  return buf;
};
const PROTO_JSON = '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}';

type Plant = (raw: Redis, key: string) => Promise<unknown>;
const bytes =
  (make: () => Buffer): Plant =>
  (raw, key) =>
    raw.set(key, make());

/** Poison where a string entry is expected (a @Cached method's key). */
const stringCases: [string, Plant][] = [
  ['truncated envelope', bytes(() => validEnvelope({ id: 'p', name: 'x', price: 1 }).subarray(0, 30))],
  ['envelope with trailing bytes', bytes(() => Buffer.concat([validEnvelope({ id: 'p' }), Buffer.from('zz')]))],
  ['bare __proto__ JSON', bytes(() => Buffer.from(PROTO_JSON))],
  [
    '__proto__ in a malformed tagged payload',
    bytes(() => envelopeAround(Buffer.from(`t{"__proto__":{"polluted":"yes"},"x":{"$t":"Nope","v":1}}`))),
  ],
  ['__proto__ in an invalid JSON payload', bytes(() => envelopeAround(Buffer.from(`j${PROTO_JSON.slice(0, -3)}`)))],
  ['old schema version (0x00)', bytes(() => withVersion(0x00))],
  ['unknown schema version (0x02)', bytes(() => withVersion(0x02))],
  ['wrong Redis type: hash', (raw, key) => raw.hset(key, '__proto__', 'polluted', 'constructor', 'x')],
  ['wrong Redis type: list', (raw, key) => raw.rpush(key, PROTO_JSON, 'b')],
  ['wrong Redis type: set', (raw, key) => raw.sadd(key, 'a', 'b')],
];

/** 50 MB values: each runs on a fresh app, so whatever one does to the connection cannot leak into the next. */
const hugeCases: [string, Plant][] = [
  ['50 MB of garbage', bytes(() => Buffer.alloc(FIFTY_MB, 0x41))],
  [
    'a 50 MB envelope with a wrong length field',
    bytes(() => {
      const buf = envelopeAround(Buffer.alloc(FIFTY_MB, 0x41));
      buf.writeUInt32BE(12, ENTRY_LAYOUT.valueLength);
      return buf;
    }),
  ],
  ['a valid 50 MB entry (over maxValueBytes)', bytes(() => validEnvelope('p'.repeat(FIFTY_MB)))],
];

/** Poison where a cached list is expected. */
const listCases: [string, Plant][] = [
  ['string garbage where a list is expected', bytes(() => Buffer.from('not a list'))],
  ['hash where a list is expected', (raw, key) => raw.hset(key, 'a', 'b')],
  [
    'list with garbage items',
    (raw, key) => raw.rpush(key, validEnvelope(null), Buffer.from('garbage'), Buffer.from(PROTO_JSON)),
  ],
  [
    'list without our header (older schema)',
    (raw, key) => raw.rpush(key, encodeValue({ old: 1 }), encodeValue({ old: 2 })),
  ],
  ['foreign list whose items happen to decode', (raw, key) => raw.rpush(key, 'x', 'b', 'j1')],
];

let redis: RedisServer;
let raw: Redis;
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  redis = await RedisServer.start();
  raw = new Redis({ port: redis.port, lazyConnect: true, maxRetriesPerRequest: 0, disconnectTimeout: 0 });
  raw.on('error', () => undefined);
  await raw.connect();
});
afterAll(async () => {
  await raw?.quit();
  await redis?.stop();
  reportDrill('19', figures, `poisoned entries: ${JSON.stringify(figures)}`);
});

function noPollution(): void {
  expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  expect(Object.prototype).not.toHaveProperty('polluted');
  expect(Array.prototype).not.toHaveProperty('polluted');
}

const modes: [string, () => CacheModuleOptions][] = [
  [
    'redis',
    () => ({ prefix: 'drill19-redis', redis: redis.url, namespaces: { blob: { maxValueBytes: MAX_VALUE_BYTES } } }),
  ],
  [
    'redis+memory',
    () => ({
      prefix: 'drill19-tier',
      redis: redis.url,
      memory: { maxEntries: 1000 },
      namespaces: { blob: { maxValueBytes: MAX_VALUE_BYTES } },
    }),
  ],
];

describe.each(modes)('drill 19 on %s', (mode, options) => {
  let app: INestApplicationContext;
  let catalog: Catalog;
  let cache: CacheService;
  const f: Record<string, unknown> = {};

  beforeAll(async () => {
    app = await bootCache(options(), [Catalog]);
    catalog = app.get(Catalog);
    cache = app.get(CacheService);
    figures[mode] = f;
  });
  afterAll(async () => {
    await app.close();
  });

  it.each(stringCases)(
    '@Cached over %s: a miss, overwritten by the load, 0 errors, no pollution',
    async (name, plant) => {
      const id = name.replace(/[^a-z0-9]+/gi, '-');
      const full = entryKey(app, 'product', id);
      await plant(raw, full);
      expect(await raw.exists(full)).toBe(1);
      const loads = catalog.loads;
      const started = performance.now();
      await expect(catalog.product(id)).resolves.toEqual({ id, name: `product ${id}`, price: 10 });
      const ms = Math.round(performance.now() - started);
      expect(catalog.loads).toBe(loads + 1);
      // Overwritten: Redis now holds our entry, and the next call is a hit.
      const stored = await raw.getBuffer(full);
      expect(stored).not.toBeNull();
      expect(decodeEntry(stored as Buffer).value).toEqual({ id, name: `product ${id}`, price: 10 });
      await expect(catalog.product(id)).resolves.toEqual({ id, name: `product ${id}`, price: 10 });
      expect(catalog.loads).toBe(loads + 1);
      noPollution();
      f['stringCasesMs'] = { ...(f['stringCasesMs'] as Record<string, number> | undefined), [name]: ms };
    },
    20_000,
  );

  it.each(listCases)(
    'cached list over %s: a miss, overwritten by the load, 0 errors, no pollution',
    async (name, plant) => {
      const key = name.replace(/[^a-z0-9]+/gi, '-');
      const full = entryKey(app, 'history', key);
      await plant(raw, full);
      let loads = 0;
      const loader = async (): Promise<{ n: number }[]> => {
        loads++;
        return [{ n: 1 }, { n: 2 }, { n: 3 }];
      };
      await expect(cache.getOrSetList('history', key, loader, { maxLength: 10 })).resolves.toEqual([
        { n: 1 },
        { n: 2 },
        { n: 3 },
      ]);
      expect(loads).toBe(1);
      expect(await raw.type(full)).toBe('list');
      await expect(cache.getOrSetList('history', key, loader, { maxLength: 10 })).resolves.toEqual([
        { n: 1 },
        { n: 2 },
        { n: 3 },
      ]);
      expect(loads).toBe(1);
      noPollution();
    },
  );

  it('cached list over one of our value entries: E_KIND_MISMATCH, the loader not run, the entry kept', async () => {
    const key = 'our-value-entry-where-a-list-is-expected';
    const full = entryKey(app, 'history', key);
    const planted = validEnvelope(['x']);
    await raw.set(full, planted);
    const corrupt = (): number => cache.stats().namespaces['history']?.corrupt ?? 0;
    const corruptBefore = corrupt();
    let loads = 0;
    const loader = async (): Promise<string[]> => {
      loads++;
      return ['loaded'];
    };
    await expect(cache.getOrSetList('history', key, loader, { maxLength: 10 })).rejects.toMatchObject({
      code: 'E_KIND_MISMATCH',
    });
    await expect(cache.getList('history', key)).rejects.toMatchObject({ code: 'E_KIND_MISMATCH' });
    expect(loads).toBe(0);
    expect(await raw.getBuffer(full)).toEqual(planted);
    expect(await cache.get('history', key)).toEqual(['x']);
    expect(corrupt()).toBe(corruptBefore);
    noPollution();
  });

  it(`oversized values are refused on write (maxValueBytes ${MAX_VALUE_BYTES}) and the method still answers`, async () => {
    const loads = catalog.loads;
    const refused = cache.stats().namespaces['blob']?.refused ?? 0;
    expect(await catalog.blob('too-big', MAX_VALUE_BYTES * 2)).toHaveLength(MAX_VALUE_BYTES * 2);
    expect(await raw.exists(entryKey(app, 'blob', 'too-big'))).toBe(0);
    expect(cache.stats().namespaces['blob']?.refused).toBe(refused + 1);
    expect(await catalog.blob('too-big', MAX_VALUE_BYTES * 2)).toHaveLength(MAX_VALUE_BYTES * 2);
    expect(catalog.loads).toBe(loads + 2);
    // Just under the limit is cached.
    await catalog.blob('fits', 1_000);
    await catalog.blob('fits', 1_000);
    expect(catalog.loads).toBe(loads + 3);
  });

  it('an entry over the namespace maxValueBytes planted in Redis is skipped on read, then replaced by the load', async () => {
    const id = 'planted-oversized';
    const full = entryKey(app, 'blob', id);
    await raw.set(full, validEnvelope('p'.repeat(MAX_VALUE_BYTES * 2)));
    const loads = catalog.loads;
    const started = performance.now();
    const first = await catalog.blob(id, 10);
    const ms = Math.round(performance.now() - started);
    // (Compared as a summary: a failure must not print megabytes.)
    const summary = (v: string): string => `${v.length} × ${v.slice(0, 1)}`;
    expect(summary(first)).toBe('10 × b');
    expect(catalog.loads).toBe(loads + 1);
    expect(summary(await catalog.blob(id, 10))).toBe('10 × b');
    expect(catalog.loads).toBe(loads + 1);
    expect(Number(await raw.strlen(full))).toBeLessThan(1_000);
    f['oversizedSkippedMs'] = ms;
  });

  describe('50 MB values', () => {
    let huge: INestApplicationContext;
    let hugeCatalog: Catalog;
    let hugeCache: CacheService;
    beforeEach(async () => {
      huge = await bootCache({ ...options(), prefix: `${options().prefix}-huge` }, [Catalog]);
      hugeCatalog = huge.get(Catalog);
      hugeCache = huge.get(CacheService);
    });
    afterEach(async () => {
      await huge.close();
    });

    it.each(hugeCases)(
      '@Cached over %s: a miss, overwritten by the load, 0 errors, the circuit stays closed',
      async (name, plant) => {
        const id = name.replace(/[^a-z0-9]+/gi, '-');
        const full = entryKey(huge, 'product', id);
        await plant(raw, full);
        const started = performance.now();
        await expect(hugeCatalog.product(id)).resolves.toEqual({ id, name: `product ${id}`, price: 10 });
        const ms = Math.round(performance.now() - started);
        const left = Number(await raw.strlen(full));
        const seen = {
          firstCallMs: ms,
          bytesLeftInRedis: left,
          breaker: hugeCache.stats().breaker,
          errors: hugeCache.stats().namespaces['product']?.errors ?? 0,
        };
        f['huge'] = { ...(f['huge'] as Record<string, unknown> | undefined), [name]: seen };
        // Replaced by our entry right away: the poison is neither kept nor fetched again.
        expect(left).toBeLessThan(1_000);
        expect(decodeEntry((await raw.getBuffer(full)) as Buffer).value).toEqual({
          id,
          name: `product ${id}`,
          price: 10,
        });
        await expect(hugeCatalog.product(id)).resolves.toEqual({ id, name: `product ${id}`, price: 10 });
        expect(hugeCatalog.loads).toBe(1);
        expect(hugeCache.stats().breaker).toBe('closed');
        noPollution();
      },
      20_000,
    );
  });

  it('none of it surfaced an error or opened the circuit', () => {
    const stats = cache.stats();
    expect(stats.breaker).not.toBe('open');
    f['corruptCounted'] = Object.values(stats.namespaces).reduce((n, s) => n + s.corrupt, 0);
    f['backendErrors'] = Object.values(stats.namespaces).reduce((n, s) => n + s.errors, 0);
    noPollution();
  });
});
