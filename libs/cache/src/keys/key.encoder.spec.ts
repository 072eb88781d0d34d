import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { CacheError } from '../errors/cache.error.js';
import { MAX_KEY_DEPTH, encodeArgs } from './key.encoder.js';

const LONG = process.env['FC_LONG'] === '1';

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}
class Other {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

function keyError(fn: () => unknown): CacheError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CacheError) return err;
    throw err;
  }
  throw new Error('expected a CacheError');
}

/** Builds an object without ever assigning through `__proto__`. */
function build(entries: readonly (readonly [string, unknown])[], proto: object | null = Object.prototype): object {
  const out = Object.create(proto) as object;
  for (const [key, value] of entries)
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  return out;
}

// ---- the oracle: canonical equality (key order irrelevant, -0 ≠ 0, NaN = NaN, undefined properties skipped) ----

function kindOf(value: object): string {
  if (Array.isArray(value)) return 'array';
  if (value instanceof Date) return 'date';
  if (value instanceof Uint8Array) return 'bytes';
  if (value instanceof Map) return 'map';
  if (value instanceof Set) return 'set';
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return 'object';
  return `class:${(value as { constructor: { name: string } }).constructor.name}`;
}

function definedEntries(value: object): [string, unknown][] {
  return Object.entries(value).filter(([, v]) => v !== undefined);
}

/** Multiset equality under an equivalence relation: greedy matching is exact. */
function sameMultiset<T>(a: readonly T[], b: readonly T[], eq: (x: T, y: T) => boolean): boolean {
  if (a.length !== b.length) return false;
  const left = [...b];
  for (const x of a) {
    const i = left.findIndex((y) => eq(x, y));
    if (i < 0) return false;
    left.splice(i, 1);
  }
  return true;
}

function keyEqual(a: unknown, b: unknown): boolean {
  if (typeof a !== typeof b) return false;
  if (typeof a === 'number') return Object.is(a, b);
  if (typeof a !== 'object' || a === null || b === null) return a === b;
  const o = b as object;
  const kind = kindOf(a);
  if (kind !== kindOf(o)) return false;
  switch (kind) {
    case 'array': {
      const x = a as unknown[];
      const y = o as unknown[];
      return x.length === y.length && x.every((item, i) => keyEqual(item, y[i]));
    }
    case 'date':
      return Object.is((a as Date).getTime(), (o as Date).getTime());
    case 'bytes':
      return Buffer.from(a as Uint8Array).equals(Buffer.from(o as Uint8Array));
    case 'map':
      return sameMultiset(
        [...(a as Map<unknown, unknown>)],
        [...(o as Map<unknown, unknown>)],
        (x, y) => keyEqual(x[0], y[0]) && keyEqual(x[1], y[1]),
      );
    case 'set':
      return sameMultiset([...(a as Set<unknown>)], [...(o as Set<unknown>)], keyEqual);
    default: {
      const x = definedEntries(a);
      const y = new Map(definedEntries(o));
      return x.length === y.size && x.every(([k, v]) => y.has(k) && keyEqual(v, y.get(k)));
    }
  }
}

// ---- arbitraries ----

const trickyUnit = fc.constantFrom(
  ',',
  '=',
  '[',
  ']',
  '{',
  '}',
  ':',
  '*',
  '?',
  '\\',
  's',
  'n',
  'u',
  'z',
  '1',
  '0',
  '-',
  '#',
  ' ',
  'é',
  'e\u0301',
  '\u0000',
  '\uD800',
  '\uDC00',
  '😀',
);
const tricky = fc.string({ unit: trickyUnit, maxLength: 8 });
const longString = fc.string({ unit: fc.constantFrom('a', 'b', ','), minLength: 190, maxLength: 260 });
const anyString = fc.oneof(
  tricky,
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  longString,
);
const propKey = fc.oneof(tricky, fc.constantFrom('a', 'b', '__proto__', 'constructor', '$t', 'x', 'y'));

const leaf = fc.oneof(
  fc.constantFrom<unknown>(
    undefined,
    null,
    true,
    false,
    0,
    -0,
    NaN,
    Infinity,
    -Infinity,
    1,
    -1,
    0.5,
    0n,
    1n,
    -1n,
    '',
    '0',
    '1',
    'n1',
    'u',
    'NaN',
    'true',
    's1:a',
  ),
  fc.double(),
  fc.integer(),
  fc.bigInt(),
  anyString,
  fc.date({ noInvalidDate: false }),
  fc.uint8Array({ maxLength: 6 }),
  fc.uint8Array({ maxLength: 6 }).map((bytes) => Buffer.from(bytes)),
);

const { value: richValue } = fc.letrec<{
  value: unknown;
  array: unknown[];
  object: object;
  map: Map<unknown, unknown>;
  set: Set<unknown>;
  instance: object;
}>((tie) => ({
  value: fc.oneof(
    { maxDepth: 3, depthSize: 'small' },
    leaf,
    tie('array'),
    tie('object'),
    tie('map'),
    tie('set'),
    tie('instance'),
  ),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc
    .tuple(fc.uniqueArray(fc.tuple(propKey, tie('value')), { selector: (e) => e[0], maxLength: 4 }), fc.boolean())
    .map(([entries, nullProto]) => build(entries, nullProto ? null : Object.prototype)),
  map: fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((entries) => new Map(entries)),
  set: fc.array(tie('value'), { maxLength: 3 }).map((items) => new Set(items)),
  instance: fc
    .tuple(
      fc.constantFrom(Point, Other),
      fc.integer({ min: -2, max: 2 }),
      fc.constantFrom<unknown>(0, -0, '0', undefined),
    )
    .map(([Ctor, x, y]) => new Ctor(x, y as number)),
}));

const argsArb = fc.array(richValue, { maxLength: 3 });

// ---- reordering (same structure, different insertion orders) ----

function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function reorder(value: unknown, seed: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item, i) => reorder(item, seed + i));
  if (value instanceof Date || value instanceof Uint8Array) return value;
  if (value instanceof Map)
    return new Map(
      shuffle(
        [...value].map(([k, v]) => [reorder(k, seed), reorder(v, seed)] as const),
        seed,
      ),
    );
  if (value instanceof Set)
    return new Set(
      shuffle(
        [...value].map((item) => reorder(item, seed)),
        seed,
      ),
    );
  const entries = shuffle(Object.entries(value), seed).map(([k, v]) => [k, reorder(v, seed + 1)] as const);
  return build(entries, Object.getPrototypeOf(value) as object | null);
}

// ---- tests ----

describe('encodeArgs', () => {
  it('encodes primitives with their type', () => {
    expect(encodeArgs([42])).toBe('n42');
    expect(encodeArgs(['42'])).toBe('s2:42');
    expect(encodeArgs([42n])).toBe('b42');
    expect(encodeArgs([undefined, null, true, false])).toBe('u,z,t,f');
    expect(encodeArgs([])).toBe('');
    expect(encodeArgs([undefined])).toBe('u');
  });

  it('tells apart 1, "1", 1n, true and a Date of the same time', () => {
    const keys = [1, '1', 1n, true, new Date(1), [1], { 1: 1 }, new Set([1]), new Map([[1, 1]])].map((v) =>
      encodeArgs([v]),
    );
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('keeps -0, NaN and the infinities apart', () => {
    const keys = [0, -0, NaN, Infinity, -Infinity, 'NaN', 'Infinity'].map((v) => encodeArgs([v]));
    expect(keys.slice(0, 5)).toEqual(['n0', 'n-0', 'nNaN', 'nInfinity', 'n-Infinity']);
    expect(new Set(keys).size).toBe(keys.length);
    expect(encodeArgs([NaN])).toBe(encodeArgs([Number('x')]));
  });

  it('ignores property order, and skips undefined properties', () => {
    expect(encodeArgs([{ a: 1, b: 2 }])).toBe(encodeArgs([{ b: 2, a: 1 }]));
    expect(encodeArgs([{ a: 1, b: undefined }])).toBe(encodeArgs([{ a: 1 }]));
    expect(encodeArgs([{ a: { c: 3, d: [1] }, b: 2 }])).toBe(encodeArgs([{ b: 2, a: { d: [1], c: 3 } }]));
    expect(encodeArgs([{ a: 1 }])).toBe('{s1:a=n1}');
    expect(encodeArgs([Object.assign(Object.create(null) as object, { a: 1 })])).toBe(encodeArgs([{ a: 1 }]));
  });

  it('tells apart a Map, a plain object and a class instance with the same content', () => {
    const keys = [
      new Map([['x', 1]]),
      { x: 1 },
      build([['x', 1]], Point.prototype),
      build([['x', 1]], Other.prototype),
      [['x', 1]],
    ].map((v) => encodeArgs([v]));
    expect(new Set(keys).size).toBe(keys.length);
    expect(encodeArgs([new Point(1, 2)])).toBe('C5:Point{s1:x=n1,s1:y=n2}');
  });

  it('sorts Map entries and Set items, so insertion order does not matter', () => {
    expect(encodeArgs([new Set([1, 'a', 2])])).toBe(encodeArgs([new Set([2, 1, 'a'])]));
    expect(
      encodeArgs([
        new Map<unknown, number>([
          ['a', 1],
          [{ k: 1 }, 2],
        ]),
      ]),
    ).toBe(
      encodeArgs([
        new Map<unknown, number>([
          [{ k: 1 }, 2],
          ['a', 1],
        ]),
      ]),
    );
    expect(encodeArgs([new Set([1])])).not.toBe(encodeArgs([new Set([1, 2])]));
  });

  it('is safe for strings holding the separators', () => {
    const tricky = [',', '=', '[', '{', ':', '*', '?', '\\', 's1:a', 'a,s1:b', '}', ']', 'n1'];
    const lists: unknown[][] = [
      ...tricky.map((s) => [s]),
      ['a', 'b'],
      ['a', 's1:b'],
      [['a', 'b']],
      [{ a: 'b' }],
      [{ 'a=s1:b': 'c' }],
      [{ a: 'b=c' }],
    ];
    const keys = lists.map((l) => encodeArgs(l));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('does not normalize Unicode: NFC and NFD are different keys', () => {
    const nfc = 'caf\u00e9';
    const nfd = 'cafe\u0301';
    expect(nfc.normalize('NFD')).toBe(nfd);
    expect(encodeArgs([nfc])).not.toBe(encodeArgs([nfd]));
  });

  it('encodes dates, bytes and typed arrays by content', () => {
    expect(encodeArgs([new Date(5)])).toBe('d5');
    expect(encodeArgs([new Date(NaN)])).toBe('dNaN');
    expect(encodeArgs([Buffer.from([1, 2, 3])])).toBe('B3:AQID');
    expect(encodeArgs([new Uint8Array([1, 2, 3])])).toBe('B3:AQID');
    expect(encodeArgs([Buffer.from([1, 2, 3]).subarray(1)])).toBe(encodeArgs([Buffer.from([2, 3])]));
    expect(encodeArgs([new Uint16Array([1])])).not.toBe(encodeArgs([new Int16Array([1])]));
    expect(encodeArgs([new Uint16Array([1])])).not.toBe(encodeArgs([new Uint16Array([2])]));
    expect(encodeArgs([new Uint8Array([1, 0]).buffer])).not.toBe(encodeArgs([new Uint8Array([1, 1]).buffer]));
  });

  it('accepts a shared, non-cyclic object twice', () => {
    const shared = { a: 1 };
    expect(encodeArgs([[shared, shared], shared])).toBe('[{s1:a=n1},{s1:a=n1}],{s1:a=n1}');
  });

  it('throws E_UNSERIALIZABLE_KEY for what cannot be a key', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    const cyclicArray: unknown[] = [];
    cyclicArray.push([cyclicArray]);
    let deep: unknown = 1;
    for (let i = 0; i < MAX_KEY_DEPTH + 1; i++) deep = [deep];
    const bad: [unknown[], string][] = [
      [[() => 1], 'a function in argument 0'],
      [[1, Symbol('s')], 'a symbol in argument 1'],
      [[{ cb: () => 1 }], 'a function in argument 0'],
      [[cyclic], 'a cyclic structure in argument 0'],
      [[cyclicArray], 'a cyclic structure'],
      [[Promise.resolve(1)], 'a Promise'],
      [[new WeakMap()], 'weak'],
      [[new WeakSet()], 'weak'],
      [[/a/], 'a RegExp'],
      [[new Error('x')], 'an Error'],
      [[Object(1)], 'a boxed primitive'],
      [[{ [Symbol('k')]: 1 }], 'a symbol-keyed property'],
      [[new Proxy(new Map(), {})], 'a Proxy'],
      [[deep], `deeper than ${MAX_KEY_DEPTH}`],
    ];
    for (const [args, what] of bad) {
      const err = keyError(() => encodeArgs(args));
      expect(err.code).toBe('E_UNSERIALIZABLE_KEY');
      expect(err.message).toContain(what);
    }
  });

  it('accepts nesting up to the depth limit', () => {
    let deep: unknown = 1;
    for (let i = 0; i < MAX_KEY_DEPTH; i++) deep = [deep];
    expect(encodeArgs([deep])).toBe(`${'['.repeat(MAX_KEY_DEPTH)}n1${']'.repeat(MAX_KEY_DEPTH)}`);
  });

  it('property: structurally equal values (shuffled key, entry and item order) give the same key', () => {
    fc.assert(
      fc.property(argsArb, fc.nat(), (args, seed) => {
        expect(encodeArgs(reorder(args, seed) as unknown[])).toBe(encodeArgs(args));
      }),
      { numRuns: LONG ? 100_000 : 500 },
    );
  });

  it(`property: distinct argument lists never share a key (${LONG ? '≥ 1,000,000' : '~20,000'} pairs)`, () => {
    // Each run encodes a batch of lists; every pair in the batch is checked: same key ⇒ canonically equal.
    const batch = 100;
    const runs = LONG ? 203 : 4;
    let pairs = 0;
    fc.assert(
      fc.property(fc.array(argsArb, { minLength: batch, maxLength: batch }), (lists) => {
        const seen = new Map<string, unknown[][]>();
        for (const list of lists) {
          const key = encodeArgs(list);
          const same = seen.get(key) ?? [];
          for (const other of same) expect(keyEqual(list, other)).toBe(true);
          same.push(list);
          seen.set(key, same);
        }
        pairs += (lists.length * (lists.length - 1)) / 2;
      }),
      { numRuns: runs },
    );
    expect(pairs).toBeGreaterThanOrEqual(LONG ? 1_000_000 : 19_000);
  });

  it('property: near-identical lists (one leaf changed) never share a key', () => {
    const tweaks: ((v: unknown) => unknown)[] = [
      (v) => (typeof v === 'number' ? -v : v),
      (v) => (typeof v === 'number' ? String(v) : typeof v === 'string' ? Number(v) : v),
      (v) => (typeof v === 'bigint' ? Number(v) : typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : v),
      (v) => (typeof v === 'string' ? `${v},` : v),
      (v) => (typeof v === 'string' ? v.normalize('NFD') : v),
      (v) => (v instanceof Date ? v.getTime() : v),
      (v) => (Array.isArray(v) ? new Set(v) : v),
      (v) => (v instanceof Map ? build([...v].map(([k, x]) => [encodeArgs([k]), x] as const)) : v),
      (v) => (v === undefined ? null : v === null ? undefined : v),
    ];
    // Walks `path` down nested arrays and tweaks the node it reaches; the top level stays an argument list.
    const tweakOne = (value: unknown, path: number[], tweak: (v: unknown) => unknown, top = false): unknown => {
      const [step, ...rest] = path;
      if (top && Array.isArray(value) && value.length === 0) return value;
      if (!Array.isArray(value) || value.length === 0 || (step === undefined && !top)) return tweak(value);
      const i = (step ?? 0) % value.length;
      return value.map((item, j) => (j === i ? tweakOne(item, rest, tweak) : item));
    };
    fc.assert(
      fc.property(
        argsArb,
        fc.array(fc.nat(), { maxLength: 3 }),
        fc.nat({ max: tweaks.length - 1 }),
        (args, path, which) => {
          const tweaked = tweakOne(args, path, tweaks[which] ?? ((v) => v), true) as unknown[];
          if (!keyEqual(args, tweaked)) expect(encodeArgs(tweaked)).not.toBe(encodeArgs(args));
        },
      ),
      { numRuns: LONG ? 200_000 : 2_000 },
    );
  });
});
