import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { CacheService } from 'nestjs-tiercache';
import { decodeEntry, encodeEntry, ENTRY_LAYOUT } from '../../libs/cache/src/codec/entry.codec.js';
import { bootCache } from '../cache/fixtures.js';
import { RedisServer } from '../harness/redis-server.js';
import { entryKey } from '../support/cache-internals.js';

const RUNS = 200;

/** Deep equality that tells apart everything the codec promises to keep: -0, NaN, invalid dates, Buffer vs Uint8Array, key order of maps. */
function same(a: unknown, b: unknown): boolean {
  if (typeof a !== typeof b) return false;
  if (typeof a !== 'object' || a === null || b === null) return Object.is(a, b);
  const x = a as object;
  const y = b as object;
  if (Object.getPrototypeOf(x) !== Object.getPrototypeOf(y)) return false;
  if (x instanceof Date) return Object.is(x.getTime(), (y as Date).getTime());
  if (x instanceof Uint8Array) return Buffer.compare(x, y as Uint8Array) === 0;
  if (x instanceof Map) {
    const ys = [...(y as Map<unknown, unknown>)];
    return x.size === ys.length && [...x].every(([k, v], i) => same(k, ys[i]?.[0]) && same(v, ys[i]?.[1]));
  }
  if (x instanceof Set) {
    const ys = [...(y as Set<unknown>)];
    return x.size === ys.length && [...x].every((v, i) => same(v, ys[i]));
  }
  if (Array.isArray(x)) {
    const ys = y as unknown[];
    return x.length === ys.length && x.every((v, i) => same(v, ys[i]));
  }
  const xk = Object.keys(x);
  const yk = Object.keys(y);
  return (
    xk.length === yk.length &&
    xk.every((k, i) => yk[i] === k && same((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]))
  );
}

/** Strings with separators, escapes, astral and lone surrogates, and the keys the codec treats specially. */
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  fc.constantFrom(
    '',
    '__proto__',
    'constructor',
    '$t',
    'v',
    '\u0000',
    '"\\',
    'e\u0301',
    '\u00e9',
    '𝄞',
    '\ud800',
    'null',
    '-0',
  ),
);

const scalar = fc.oneof(
  text,
  fc.double(),
  fc.constantFrom(-0, NaN, Infinity, -Infinity, 0, Number.MAX_SAFE_INTEGER, Number.MIN_VALUE),
  fc.bigInt(),
  fc.boolean(),
  fc.constant(null),
  fc.date({ noInvalidDate: false }),
  fc.uint8Array({ maxLength: 16 }).map((bytes) => Buffer.from(bytes)),
  fc.uint8Array({ maxLength: 16 }),
);

const { value } = fc.letrec<{ value: unknown; item: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('item'), { maxLength: 5 }),
    fc.dictionary(text, tie('value'), { maxKeys: 5, noNullPrototype: true }),
    fc.array(fc.tuple(tie('item'), tie('item')), { maxLength: 4 }).map((entries) => new Map(entries)),
    fc.array(tie('item'), { maxLength: 4 }).map((items) => new Set(items)),
  ),
  // Inside arrays, maps and sets `undefined` is kept; as an object property it is dropped (as in JSON).
  item: fc.oneof({ depthSize: 'small' }, tie('value'), fc.constant(undefined)),
}));

describe('the deep-equality helper', () => {
  it('tells apart what a lossy round trip would merge', () => {
    const pairs: [unknown, unknown][] = [
      [0, -0],
      [new Date(NaN), new Date(0)],
      [Buffer.from([1]), new Uint8Array([1])],
      [
        new Map([
          [1, 'a'],
          [2, 'b'],
        ]),
        new Map([
          [2, 'b'],
          [1, 'a'],
        ]),
      ],
      [[undefined], [null]],
      [{ a: 1 }, { a: 1, b: 2 }],
      [1n, 1],
      ['1', 1],
      [{ __proto__: null, a: 1 }, { a: 1 }],
    ];
    for (const [a, b] of pairs) expect(same(a, b)).toBe(false);
    expect(same(new Date(NaN), new Date(NaN))).toBe(true);
    expect(same({ m: new Map([[NaN, [-0]]]) }, { m: new Map([[NaN, [-0]]]) })).toBe(true);
  });
});

describe('values round-trip identically through CacheService', () => {
  let server: RedisServer;
  const apps: INestApplicationContext[] = [];

  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await server.stop();
  });

  const modes: [string, () => { prefix: string; redis?: string }][] = [
    ['memory backend', () => ({ prefix: 'rv-mem' })],
    ['Redis backend', () => ({ prefix: 'rv-redis', redis: server.url })],
  ];

  it.each(modes)('on the %s (fast-check)', async (_name, options) => {
    const app = await bootCache(options());
    apps.push(app);
    const cache = app.get(CacheService);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        const key = `k${++n}`;
        expect(await cache.set('values', key, v)).toBe(true);
        const back = await cache.get('values', key);
        if (!same(back, v)) throw new Error(`round trip changed the value`);
      }),
      { numRuns: RUNS },
    );
    const stats = cache.stats().namespaces['values'];
    expect(stats?.hits).toBe(RUNS);
    expect(stats?.errors).toBe(0);
  });
});

describe('poisoned entries written straight into Redis', () => {
  const NS = 'poison';
  let server: RedisServer;
  let app: INestApplicationContext;
  let cache: CacheService;
  /** Plants exact bytes (the harness's command() sends strings). */
  let raw: Redis;

  beforeAll(async () => {
    server = await RedisServer.start();
    app = await bootCache({ prefix: 'rv-poison', redis: server.url });
    cache = app.get(CacheService);
    raw = new Redis({ port: server.port, lazyConnect: true, maxRetriesPerRequest: 0, disconnectTimeout: 0 });
    raw.on('error', () => undefined);
    await raw.connect();
  });
  afterAll(async () => {
    await raw.quit();
    await app.close();
    await server.stop();
  });

  const valid = (): Buffer => {
    const now = Date.now();
    return encodeEntry({ value: { id: 1, name: 'ann' }, createdAt: now, expiresAt: now + 60_000 });
  };
  const withVersion = (version: number): Buffer => {
    const buf = valid();
    buf[1] = version;
    return buf;
  };
  const envelopeAround = (payload: string): Buffer => {
    const now = Date.now();
    const body = Buffer.from(payload, 'utf8');
    const buf = Buffer.alloc(ENTRY_LAYOUT.value + body.length);
    buf[0] = 0x54;
    buf[1] = 0x01;
    buf.writeDoubleBE(now, ENTRY_LAYOUT.createdAt);
    buf.writeDoubleBE(now + 60_000, ENTRY_LAYOUT.expiresAt);
    buf.writeUInt32BE(body.length, ENTRY_LAYOUT.valueLength);
    body.copy(buf, ENTRY_LAYOUT.value);
    return buf;
  };

  type Plant = (key: string) => Promise<unknown>;
  const bytes =
    (buf: Buffer): Plant =>
    (key) =>
      raw.set(key, buf);

  const cases: [string, Plant][] = [
    ['garbage bytes', bytes(Buffer.from([0xff, 0x00, 0x13, 0x37, 0xde, 0xad, 0xbe, 0xef]))],
    ['a truncated envelope', bytes(valid().subarray(0, valid().length - 3))],
    ['an envelope with trailing bytes', bytes(Buffer.concat([valid(), Buffer.from('xx')]))],
    [
      'a bare __proto__ JSON payload',
      bytes(Buffer.from('{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}')),
    ],
    [
      'a __proto__ payload in a tagged envelope that is malformed',
      bytes(envelopeAround('t{"__proto__":{"polluted":"yes"},"x":{"$t":"Nope","v":1}}')),
    ],
    ['a wrong Redis type (hash)', (key) => server.command('HSET', key, '__proto__', 'polluted')],
    ['a wrong Redis type (list)', (key) => server.command('RPUSH', key, 'a', 'b')],
    ['an envelope with an old version byte', bytes(withVersion(0x00))],
    ['an envelope with an unknown version byte', bytes(withVersion(0x02))],
    ['a header only', bytes(Buffer.from([0x54, 0x01]))],
  ];

  it.each(cases)('%s: get is a counted miss, the key is removed, no pollution', async (name, plant) => {
    const key = name.replace(/[^a-z]+/gi, '-');
    const full = entryKey(app, NS, key);
    await plant(full);
    expect(await server.command('EXISTS', full)).toBe(1);
    const before = cache.stats().namespaces[NS]?.corrupt ?? 0;

    await expect(cache.get(NS, key)).resolves.toBeUndefined();

    expect(cache.stats().namespaces[NS]?.corrupt).toBe(before + 1);
    expect(await server.command('EXISTS', full)).toBe(0);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');

    // The next load caches a good entry in its place.
    expect(await cache.getOrSet(NS, key, () => ({ fresh: true }))).toEqual({ fresh: true });
    const stored = (await server.command('TYPE', full)) === 'string';
    expect(stored).toBe(true);
    expect(await cache.get(NS, key)).toEqual({ fresh: true });
  });

  it('a well-formed entry with __proto__ keys decodes them as own data, never as a prototype', async () => {
    const full = entryKey(app, NS, 'proto-data');
    await raw.set(
      full,
      envelopeAround('t{"__proto__":{"polluted":"yes"},"m":{"$t":"Map","v":[["__proto__",{"polluted":"yes"}]]}}'),
    );
    const value = await cache.get<Record<string, unknown>>(NS, 'proto-data');
    expect(value).toBeDefined();
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.hasOwn(value ?? {}, '__proto__')).toBe(true);
    expect(value?.['polluted']).toBeUndefined();
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    // Control: the envelope the poisoned cases are cut from is itself valid, so only their damage makes them misses.
    expect(decodeEntry(valid()).value).toEqual({ id: 1, name: 'ann' });
  });
});
