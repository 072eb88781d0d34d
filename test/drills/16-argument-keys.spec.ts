// Drill 16 — argument keys through @Cached with default keys (the stable encoding of all arguments), on the memory
// backend: {a:1,b:2} and {b:2,a:1} hit the same entry; values that differ in type or content never collide (a
// fast-check property over a few thousand pairs through the real decorator — independent pairs, near misses made by
// mutating one value, and equivalent reorderings; the ≥ 1M-pair run of the encoder itself is
// libs/cache/src/keys/key.encoder.spec.ts under `npm run test:long`, FC_LONG=1); unserializable arguments (function,
// symbol, cycle) bypass the cache with a warning and the method still runs.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import type { INestApplicationContext, LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import fc from 'fast-check';
import { Cached, CacheModule, CacheService } from 'nestjs-tiercache';
import { reportDrill } from './support/processes.js';

// Real servers, processes and fault injection: slower than a unit test, especially on a loaded machine.
jest.setTimeout(60_000);

const PAIRS_PER_KIND = 1_000;

@Injectable()
class Finder {
  loads = 0;

  @Cached()
  async one(_arg: unknown): Promise<number> {
    return ++this.loads;
  }

  @Cached()
  async many(..._args: unknown[]): Promise<number> {
    return ++this.loads;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The oracle: structural equivalence as the key encoding promises it, written independently of the encoder.
// Object key order, Map/Set insertion order, `undefined` object properties and array holes do not matter; type
// does (1 ≠ '1' ≠ 1n, 0 ≠ -0, Date ≠ its time, Map ≠ object, Set ≠ array); Buffer and Uint8Array with the same
// bytes are the same key by design; NaN equals NaN.
type Kind = 'array' | 'bytes' | 'date' | 'map' | 'set' | 'plain';
function kindOf(v: object): Kind {
  if (Array.isArray(v)) return 'array';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof Date) return 'date';
  if (v instanceof Map) return 'map';
  if (v instanceof Set) return 'set';
  return 'plain';
}
function sameMultiset(xs: unknown[], ys: unknown[], eq: (x: unknown, y: unknown) => boolean): boolean {
  if (xs.length !== ys.length) return false;
  const left = [...ys];
  for (const x of xs) {
    const i = left.findIndex((y) => eq(x, y));
    if (i < 0) return false;
    left.splice(i, 1);
  }
  return true;
}
function equivalent(a: unknown, b: unknown): boolean {
  if (typeof a !== typeof b) return false;
  if (typeof a === 'number') return Object.is(a, b);
  if (typeof a !== 'object' || a === null || b === null) return a === b;
  const x = a as object;
  const y = b as object;
  const kind = kindOf(x);
  if (kind !== kindOf(y)) return false;
  switch (kind) {
    case 'array': {
      const xs = x as unknown[];
      const ys = y as unknown[];
      return (
        xs.length === ys.length && Array.from({ length: xs.length }, (_, i) => i).every((i) => equivalent(xs[i], ys[i]))
      );
    }
    case 'bytes':
      return Buffer.compare(Buffer.from(x as Uint8Array), Buffer.from(y as Uint8Array)) === 0;
    case 'date':
      return Object.is((x as Date).getTime(), (y as Date).getTime());
    case 'map':
      return sameMultiset([...(x as Map<unknown, unknown>)], [...(y as Map<unknown, unknown>)], (p, q) => {
        const [pk, pv] = p as [unknown, unknown];
        const [qk, qv] = q as [unknown, unknown];
        return equivalent(pk, qk) && equivalent(pv, qv);
      });
    case 'set':
      return sameMultiset([...(x as Set<unknown>)], [...(y as Set<unknown>)], equivalent);
    case 'plain': {
      const defined = (o: object): string[] =>
        Object.keys(o)
          .filter((k) => (o as Record<string, unknown>)[k] !== undefined)
          .sort();
      const xk = defined(x);
      const yk = defined(y);
      return (
        xk.length === yk.length &&
        xk.every(
          (k, i) => k === yk[i] && equivalent((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]),
        )
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Generators: strings full of the encoding's own separators, Unicode forms, numbers vs numeric strings, -0, NaN,
// BigInt, Date, Map/Set, nesting, and strings long enough to be hashed.
const SEPARATORS = [
  ',',
  ':',
  '=',
  '{',
  '}',
  '[',
  ']',
  's',
  'n',
  'b',
  'd',
  'B',
  'M',
  'S',
  'C',
  'u',
  'z',
  't',
  'f',
  '1',
  '0',
  '-',
  '#',
  '\\',
  '"',
  ' ',
];
const text = fc.oneof(
  fc.string({ unit: fc.constantFrom(...SEPARATORS), maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.constantFrom(
    '',
    'e\u0301',
    '\u00e9',
    '\ud800',
    '\udc00',
    '𝄞',
    'NaN',
    '-0',
    '0',
    '1',
    'true',
    'null',
    'undefined',
    '__proto__',
  ),
  fc.string({ unit: fc.constantFrom('a', 'b', ','), minLength: 190, maxLength: 260 }),
);
const scalar = fc.oneof(
  text,
  fc.double(),
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom(-0, 0, NaN, Infinity, -Infinity, 1, 1.5),
  fc.bigInt({ min: -3n, max: 3n }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.date({ noInvalidDate: false }),
  fc.uint8Array({ maxLength: 4 }),
);
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(text, fc.constantFrom('a', 'b', 'c')), tie('value'), { maxKeys: 4, noNullPrototype: true }),
    fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((entries) => new Map(entries)),
    fc.array(tie('value'), { maxLength: 3 }).map((items) => new Set(items)),
  ),
}));

/** Values that look like `v` but differ in type or content (or not — the oracle decides). */
function nearMisses(v: unknown): unknown[] {
  const out: unknown[] = [
    [v],
    { v },
    String(v === undefined ? 'u' : typeof v === 'symbol' ? 's' : v),
    new Set([v]),
    new Map([[v, v]]),
  ];
  if (typeof v === 'number')
    out.push(String(v), -v, v + 1, BigInt(Number.isInteger(v) ? v : 0), new Date(Number.isFinite(v) ? v : 0));
  if (typeof v === 'string')
    out.push(Number(v), `${v},`, `${v}\u0000`, v.normalize('NFD'), v.normalize('NFC'), v.slice(1), [
      v.slice(0, 1),
      v.slice(1),
    ]);
  if (typeof v === 'bigint') out.push(Number(v), String(v));
  if (v instanceof Date) out.push(v.getTime(), String(v.getTime()), new Date(v.getTime() + 1));
  if (v instanceof Uint8Array) out.push(Buffer.from(v), [...v], Buffer.from([...v, 0]));
  if (Array.isArray(v)) out.push(new Set(v), [...v, undefined], v.slice(1), Object.assign({}, v), v.flat());
  if (v instanceof Map) out.push(Object.fromEntries([...v].map(([k, x]) => [String(k), x])), [...v]);
  if (v instanceof Set) out.push([...v]);
  if (typeof v === 'object' && v !== null && kindOf(v) === 'plain') {
    const entries = Object.entries(v);
    out.push(new Map(entries), entries, { ...v, extra: 1 }, Object.fromEntries(entries.slice(1)), {
      ...v,
      [entries[0]?.[0] ?? 'k']: 'changed',
    });
  }
  return out;
}

/** The same value rebuilt with every object's keys and every Map/Set's entries in reverse order (plus an undefined prop). */
function reordered(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  switch (kindOf(v)) {
    case 'array':
      return (v as unknown[]).map(reordered);
    case 'map':
      return new Map([...(v as Map<unknown, unknown>)].reverse().map(([k, x]) => [reordered(k), reordered(x)]));
    case 'set':
      return new Set([...(v as Set<unknown>)].reverse().map(reordered));
    case 'plain':
      return Object.fromEntries([
        ...Object.entries(v)
          .reverse()
          .map(([k, x]) => [k, reordered(x)]),
        ['__absent__', undefined],
      ]);
    default:
      return v;
  }
}

const pairs = {
  independent: fc.tuple(value, value),
  nearMiss: value.chain((v) => {
    const candidates = nearMisses(v);
    return fc.nat({ max: candidates.length - 1 }).map((i) => [v, candidates[i]] as [unknown, unknown]);
  }),
  reordered: value.map((v) => [v, reordered(v)] as [unknown, unknown]),
};

const warnings: string[] = [];
const logger: LoggerService = {
  log: () => undefined,
  error: (m: unknown) => warnings.push(`error: ${String(m)}`),
  warn: (m: unknown) => warnings.push(String(m)),
};

let app: INestApplicationContext;
let finder: Finder;
let cache: CacheService;
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  const moduleRef = await Test.createTestingModule({
    imports: [CacheModule.forRoot({ prefix: 'drill16', logThrottle: 0 })],
    providers: [Finder],
  }).compile();
  app = moduleRef.createNestApplication({ logger });
  await app.init();
  finder = app.get(Finder);
  cache = app.get(CacheService);
});
afterAll(async () => {
  await app?.close();
  reportDrill('16', figures, `argument keys: ${JSON.stringify(figures)}`);
});

/** Calls `call(x)` then `call(y)` on an empty namespace: true when the second call was a hit. */
async function sharesEntry(
  namespace: string,
  call: () => Promise<number>,
  other: () => Promise<number>,
): Promise<boolean> {
  await cache.clearNamespace(namespace);
  const first = await call();
  const second = await other();
  return second === first;
}

describe('drill 16: default argument keys through @Cached (memory backend)', () => {
  it('{a:1,b:2} and {b:2,a:1} hit the same entry; nested and Map/Set orders too', async () => {
    const cases: [unknown, unknown][] = [
      [
        { a: 1, b: 2 },
        { b: 2, a: 1 },
      ],
      [{ q: { x: [1, { m: 'n', o: 'p' }] } }, { q: { x: [1, { o: 'p', m: 'n' }] } }],
      [
        new Map([
          ['a', 1],
          ['b', 2],
        ]),
        new Map([
          ['b', 2],
          ['a', 1],
        ]),
      ],
      [new Set(['a', 'b']), new Set(['b', 'a'])],
      [{ a: 1, gone: undefined }, { a: 1 }],
    ];
    for (const [x, y] of cases)
      expect(
        await sharesEntry(
          'Finder.one',
          () => finder.one(x),
          () => finder.one(y),
        ),
      ).toBe(true);
  });

  it.each(Object.keys(pairs) as (keyof typeof pairs)[])(
    `%s pairs (${PAIRS_PER_KIND}): a hit exactly when the values are equivalent`,
    async (kind) => {
      let hits = 0;
      let runs = 0;
      await fc.assert(
        fc.asyncProperty(pairs[kind], async ([x, y]) => {
          runs++;
          const same = equivalent(x, y);
          const hit = await sharesEntry(
            'Finder.one',
            () => finder.one(x),
            () => finder.one(y),
          );
          if (hit) hits++;
          if (hit !== same)
            throw new Error(
              `${same ? 'equivalent values missed' : 'different values collided'}: ${fc.stringify(x)} vs ${fc.stringify(y)}`,
            );
        }),
        { numRuns: PAIRS_PER_KIND },
      );
      figures[`${kind}Pairs`] = runs;
      figures[`${kind}Hits`] = hits;
      figures[`${kind}Collisions`] = 0;
    },
  );

  it(`argument lists (${PAIRS_PER_KIND / 2} pairs): ('a','b') ≠ ('a,b') ≠ (['a','b']) ≠ ('a','b',undefined)`, async () => {
    const fixed: [unknown[], unknown[]][] = [
      [['a', 'b'], ['a,b']],
      [['a', 'b'], [['a', 'b']]],
      [
        ['a', 'b'],
        ['a', 'b', undefined],
      ],
      [
        [1, 2],
        ['1', '2'],
      ],
      [[], [undefined]],
    ];
    for (const [x, y] of fixed)
      expect(
        await sharesEntry(
          'Finder.many',
          () => finder.many(...x),
          () => finder.many(...y),
        ),
      ).toBe(false);
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(value, { maxLength: 4 }), fc.array(value, { maxLength: 4 }), async (x, y) => {
        runs++;
        const same = x.length === y.length && equivalent(x, y);
        const hit = await sharesEntry(
          'Finder.many',
          () => finder.many(...x),
          () => finder.many(...y),
        );
        if (hit !== same)
          throw new Error(
            `${same ? 'equivalent argument lists missed' : 'different argument lists collided'}: ${fc.stringify(x)} vs ${fc.stringify(y)}`,
          );
      }),
      { numRuns: PAIRS_PER_KIND / 2 },
    );
    figures['argumentListPairs'] = runs + fixed.length;
    figures['fullEncoderRun'] = 'libs/cache/src/keys/key.encoder.spec.ts, FC_LONG=1 (npm run test:long): >= 1M pairs';
  });

  it('unserializable arguments (function, symbol, cycle) bypass the cache with a warning; the method still runs', async () => {
    const cycle: Record<string, unknown> = { a: 1 };
    cycle['self'] = cycle;
    const fn = (): number => 1;
    const sym = Symbol('s');
    const bypassed: string[] = [];
    for (const [name, arg] of [
      ['function', fn],
      ['symbol', sym],
      ['cycle', cycle],
      ['nested function', { handler: fn }],
    ] as [string, unknown][]) {
      warnings.length = 0;
      const loads = finder.loads;
      const first = await finder.one(arg);
      const second = await finder.one(arg);
      expect([first, second]).toEqual([loads + 1, loads + 2]);
      expect(warnings.some((w) => w.includes('Finder#one') && w.includes('cannot build a cache key'))).toBe(true);
      bypassed.push(name);
    }
    expect(cache.stats().inFlight).toBe(0);
    figures['bypassedWithWarning'] = bypassed;
  });
});
