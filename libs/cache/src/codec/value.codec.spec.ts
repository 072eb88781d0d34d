import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { CacheError } from '../errors/cache.error.js';
import { MAX_VALUE_DEPTH, ValueKind, decodeValue, encodeValue } from './value.codec.js';

const LONG = process.env['FC_LONG'] === '1';

function roundTrip(value: unknown): unknown {
  return decodeValue(encodeValue(value));
}

function errorOf(fn: () => unknown): CacheError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CacheError) return err;
    throw err;
  }
  throw new Error('expected a CacheError');
}

function payload(kind: number, json: string): Buffer {
  return Buffer.concat([Buffer.from([kind]), Buffer.from(json, 'utf8')]);
}

function build(entries: readonly (readonly [string, unknown])[], proto: object | null = Object.prototype): object {
  const out = Object.create(proto) as object;
  for (const [key, value] of entries)
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  return out;
}

/**
 * Exact equality after a round trip: -0 ≠ 0, NaN = NaN, Buffer stays Buffer and Uint8Array stays Uint8Array,
 * Map/Set in insertion order, dates by time; decoded plain objects always have Object.prototype; properties whose
 * value is undefined are dropped by design.
 */
function sameValue(original: unknown, decoded: unknown): boolean {
  if (typeof original !== typeof decoded) return false;
  if (typeof original !== 'object' || original === null || decoded === null) return Object.is(original, decoded);
  const d = decoded as object;
  if (Buffer.isBuffer(original)) return Buffer.isBuffer(d) && original.equals(d);
  if (original instanceof Uint8Array)
    return d instanceof Uint8Array && !Buffer.isBuffer(d) && Buffer.from(original).equals(Buffer.from(d));
  if (original instanceof Date) return d instanceof Date && Object.is(original.getTime(), d.getTime());
  if (Array.isArray(original))
    return Array.isArray(d) && original.length === d.length && original.every((item, i) => sameValue(item, d[i]));
  if (original instanceof Map) {
    if (!(d instanceof Map) || d.size !== original.size) return false;
    const entries = [...d];
    return [...original].every(([k, v], i) => sameValue(k, entries[i]?.[0]) && sameValue(v, entries[i]?.[1]));
  }
  if (original instanceof Set) {
    if (!(d instanceof Set) || d.size !== original.size) return false;
    const items = [...d];
    return [...original].every((item, i) => sameValue(item, items[i]));
  }
  if (Object.getPrototypeOf(d) !== Object.prototype) return false;
  const expected = Object.entries(original).filter(([, v]) => v !== undefined);
  const actual = Object.entries(d);
  return (
    expected.length === actual.length &&
    expected.every(([k, v]) => Object.hasOwn(d, k) && sameValue(v, (d as Record<string, unknown>)[k]))
  );
}

const propKey = fc.oneof(
  fc.string({ maxLength: 5 }),
  fc.constantFrom('__proto__', 'constructor', 'prototype', '$t', 'v', 'toString'),
);
const leaf = fc.oneof(
  fc.constantFrom<unknown>(undefined, null, true, false, 0, -0, NaN, Infinity, -Infinity, '', '$t', 0n, -1n),
  fc.double(),
  fc.integer(),
  fc.bigInt(),
  fc.string({ unit: 'binary', maxLength: 10 }),
  fc.string({ unit: fc.constantFrom('a', '\uD800', '\uDC00', '"', '\\', '\u0000', '😀'), maxLength: 6 }),
  fc.date({ noInvalidDate: false }),
  fc.uint8Array({ maxLength: 8 }),
  fc.uint8Array({ maxLength: 8 }).map((bytes) => Buffer.from(bytes)),
);
const { value: richValue } = fc.letrec<{
  value: unknown;
  array: unknown[];
  object: object;
  map: Map<unknown, unknown>;
  set: Set<unknown>;
}>((tie) => ({
  value: fc.oneof({ maxDepth: 4, depthSize: 'small' }, leaf, tie('array'), tie('object'), tie('map'), tie('set')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc
    .tuple(fc.uniqueArray(fc.tuple(propKey, tie('value')), { selector: (e) => e[0], maxLength: 4 }), fc.boolean())
    .map(([entries, nullProto]) => build(entries, nullProto ? null : Object.prototype)),
  map: fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((entries) => new Map(entries)),
  set: fc.array(tie('value'), { maxLength: 3 }).map((items) => new Set(items)),
}));

describe('value codec', () => {
  it('round-trips JSON values and stores them as plain JSON', () => {
    const values: unknown[] = [
      null,
      true,
      false,
      0,
      1.5,
      -7,
      1e300,
      'hé😀',
      '',
      [],
      {},
      [1, 'a', null, { b: [true] }],
      { a: { b: { c: 'd' } } },
    ];
    for (const value of values) {
      const buf = encodeValue(value);
      expect(buf[0]).toBe(ValueKind.json);
      expect(buf.subarray(1).toString('utf8')).toBe(JSON.stringify(value));
      expect(decodeValue(buf)).toEqual(value);
    }
  });

  it('round-trips the values JSON lacks, as tagged JSON', () => {
    const values: unknown[] = [
      -0,
      NaN,
      Infinity,
      -Infinity,
      123456789012345678901234567890n,
      -1n,
      new Date(1_700_000_000_000),
      new Date(NaN),
      new Uint8Array([0, 255]),
      new Map<unknown, unknown>([
        [{ k: 1 }, 'object key'],
        [1n, new Set([-0])],
        [undefined, null],
      ]),
      new Set([1, '1', [1]]),
      [undefined, 1],
      { nested: [{ deep: new Map([[new Date(0), Buffer.from('x')]]) }] },
      undefined,
    ];
    for (const value of values) {
      const buf = encodeValue(value);
      expect(buf[0]).toBe(ValueKind.tagged);
      expect(sameValue(value, decodeValue(buf))).toBe(true);
    }
    expect(Object.is(roundTrip(-0), -0)).toBe(true);
    expect(Object.is((roundTrip([-0]) as number[])[0], -0)).toBe(true);
    expect(sameValue([-0], [0])).toBe(false);
  });

  it('stores a top-level Buffer as raw bytes and decodes it to an independent Buffer', () => {
    const original = Buffer.from('raw \u0000 bytes', 'utf8');
    const buf = encodeValue(original);
    expect(buf[0]).toBe(ValueKind.bytes);
    expect(buf.length).toBe(original.length + 1);
    const decoded = decodeValue(buf);
    expect(Buffer.isBuffer(decoded)).toBe(true);
    expect((decoded as Buffer).equals(original)).toBe(true);
    (decoded as Buffer)[0] = 0;
    expect(buf[1]).toBe(original[0]);
    const nested = roundTrip({ file: original });
    expect(Buffer.isBuffer((nested as { file: unknown }).file)).toBe(true);
  });

  it('keeps a Uint8Array a Uint8Array and a Buffer a Buffer', () => {
    const decoded = roundTrip([new Uint8Array([1]), Buffer.from([1])]) as unknown[];
    expect(Buffer.isBuffer(decoded[0])).toBe(false);
    expect(decoded[0]).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(decoded[1])).toBe(true);
  });

  it('escapes plain objects that have a $t key', () => {
    const values = [{ $t: 'Date', v: 0 }, { $t: 'u' }, { a: { $t: 'n', v: 'NaN' }, b: NaN }, { $t: { $t: 1 } }];
    for (const value of values) expect(roundTrip(value)).toEqual(value);
    expect(encodeValue({ $t: 'u' })[0]).toBe(ValueKind.json);
  });

  it('drops undefined properties (as JSON), keeps undefined in arrays, maps and sets, turns holes into undefined', () => {
    expect(roundTrip({ a: 1, b: undefined })).toEqual({ a: 1 });
    expect(Object.hasOwn(roundTrip({ a: 1, b: undefined }) as object, 'b')).toBe(false);
    expect(roundTrip([undefined])).toEqual([undefined]);
    expect((roundTrip([undefined]) as unknown[]).length).toBe(1);
    // eslint-disable-next-line no-sparse-arrays
    const holes = roundTrip([1, , 3]) as unknown[];
    expect(holes).toHaveLength(3);
    expect(1 in holes).toBe(true);
    expect(holes[1]).toBeUndefined();
    expect(roundTrip(new Map([['a', undefined]]))).toEqual(new Map([['a', undefined]]));
    expect(roundTrip(new Set([undefined]))).toEqual(new Set([undefined]));
  });

  it('stores class instances as their own enumerable properties, or their toJSON() result', () => {
    class User {
      constructor(
        readonly id: number,
        readonly name: string,
      ) {}
      greet(): string {
        return this.name;
      }
    }
    class Money {
      constructor(private readonly cents: bigint) {}
      toJSON(): string {
        return `${this.cents}c`;
      }
    }
    const user = roundTrip(new User(1, 'a'));
    expect(user).toEqual({ id: 1, name: 'a' });
    expect(Object.getPrototypeOf(user)).toBe(Object.prototype);
    expect(encodeValue(new User(1, 'a'))[0]).toBe(ValueKind.json);
    expect(roundTrip({ price: new Money(5n) })).toEqual({ price: '5c' });
  });

  it('keeps an own __proto__ key as data and never changes a prototype', () => {
    const value = JSON.parse('{"__proto__":{"polluted":1},"a":[{"__proto__":{"polluted":2}}]}') as object;
    for (const decoded of [roundTrip(value), roundTrip({ wrap: value, special: NaN })]) {
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      expect(JSON.stringify(decoded)).toContain('"__proto__":{"polluted":1}');
    }
    const tagged = roundTrip(build([['__proto__', new Map([[1, 2]])]])) as object;
    expect(Object.getPrototypeOf(tagged)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(tagged, '__proto__')?.value).toEqual(new Map([[1, 2]]));
  });

  it('decodes attacker-written __proto__ payloads without pollution', () => {
    const payloads = [
      payload(ValueKind.json, '{"__proto__":{"polluted":1}}'),
      payload(ValueKind.tagged, '{"__proto__":{"polluted":1}}'),
      payload(ValueKind.tagged, '{"__proto__":{"$t":"n","v":"NaN"}}'),
      payload(ValueKind.tagged, '{"__proto__":{"$t":"Map","v":[["polluted",1]]}}'),
      payload(ValueKind.tagged, '{"a":{"$t":"$","v":{"$t":1,"__proto__":{"$t":"Set","v":[]}}}}'),
      payload(ValueKind.tagged, '[{"__proto__":{"$t":"big","v":"1"}},{"constructor":{"prototype":{"polluted":1}}}]'),
      payload(ValueKind.tagged, '{"$t":"Map","v":[[{"__proto__":{"polluted":1}},{"__proto__":{"$t":"u"}}]]}'),
    ];
    for (const buf of payloads) {
      const decoded = decodeValue(buf);
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('polluted');
      const objects: object[] = [];
      const collect = (v: unknown): void => {
        if (typeof v !== 'object' || v === null || v instanceof Date || v instanceof Uint8Array) return;
        if (v instanceof Map) return [...v].forEach(([k, x]) => (collect(k), collect(x)));
        if (v instanceof Set) return [...v].forEach(collect);
        objects.push(v);
        Object.values(v).forEach(collect);
      };
      collect(decoded);
      for (const o of objects) expect([Object.prototype, Array.prototype]).toContain(Object.getPrototypeOf(o));
    }
    const own = decodeValue(payloads[3] as Buffer) as object;
    expect(Object.getOwnPropertyDescriptor(own, '__proto__')?.value).toEqual(new Map([['polluted', 1]]));
  });

  it('refuses values it cannot store with E_UNSERIALIZABLE_VALUE', () => {
    const cyclic: Record<string, unknown> = { a: [] };
    (cyclic['a'] as unknown[]).push(cyclic);
    let deep: unknown = 1;
    for (let i = 0; i < MAX_VALUE_DEPTH + 1; i++) deep = [deep];
    const bad: [unknown, string][] = [
      [() => 1, 'a function'],
      [{ a: { b: () => 1 } }, 'a function at $.a.b'],
      [[Symbol('s')], 'a symbol at $[0]'],
      [cyclic, 'a cyclic structure'],
      [new Map([[1, Promise.resolve(1)]]), 'a Promise'],
      [new WeakMap(), 'weak'],
      [/re/, 'a RegExp'],
      [new Error('x'), 'an Error'],
      [new Float64Array(1), 'binary data'],
      [new ArrayBuffer(1), 'binary data'],
      [deep, `deeper than ${MAX_VALUE_DEPTH}`],
    ];
    for (const [value, what] of bad) {
      const err = errorOf(() => encodeValue(value));
      expect(err.code).toBe('E_UNSERIALIZABLE_VALUE');
      expect(err.message).toContain(what);
    }
    const shared = { a: 1 };
    expect(roundTrip([shared, shared])).toEqual([{ a: 1 }, { a: 1 }]);
  });

  it('round-trips nesting up to the depth limit', () => {
    let deep: unknown = NaN;
    for (let i = 0; i < MAX_VALUE_DEPTH; i++) deep = i % 2 ? [deep] : { d: deep };
    expect(sameValue(deep, roundTrip(deep))).toBe(true);
  });

  it('throws E_DECODE for malformed input, never another error', () => {
    const deepTagged = `${'['.repeat(MAX_VALUE_DEPTH + 5)}${']'.repeat(MAX_VALUE_DEPTH + 5)}`;
    const bad: Buffer[] = [
      Buffer.alloc(0),
      Buffer.from('x{}'),
      payload(ValueKind.json, ''),
      payload(ValueKind.json, '{"a":'),
      payload(ValueKind.tagged, '{"a":1'),
      payload(ValueKind.tagged, '{"$t":"Nope","v":1}'),
      payload(ValueKind.tagged, '{"$t":1,"v":1}'),
      payload(ValueKind.tagged, '{"$t":"u","v":1}'),
      payload(ValueKind.tagged, '{"$t":"n"}'),
      payload(ValueKind.tagged, '{"$t":"n","v":"1"}'),
      payload(ValueKind.tagged, '{"$t":"big","v":"1.5"}'),
      payload(ValueKind.tagged, '{"$t":"big","v":1}'),
      payload(ValueKind.tagged, '{"$t":"Date","v":"2020"}'),
      payload(ValueKind.tagged, '{"$t":"Date","v":1e300}'),
      payload(ValueKind.tagged, '{"$t":"Buf","v":"!!"}'),
      payload(ValueKind.tagged, '{"$t":"U8","v":null}'),
      payload(ValueKind.tagged, '{"$t":"Map","v":[[1]]}'),
      payload(ValueKind.tagged, '{"$t":"Map","v":{}}'),
      payload(ValueKind.tagged, '{"$t":"Set","v":1}'),
      payload(ValueKind.tagged, '{"$t":"$","v":{"a":1}}'),
      payload(ValueKind.tagged, '{"$t":"$","v":[]}'),
      payload(ValueKind.tagged, '{"$t":"Date","v":0,"x":1}'),
      payload(ValueKind.tagged, deepTagged),
    ];
    for (const buf of bad) expect(errorOf(() => decodeValue(buf)).code).toBe('E_DECODE');
    expect(errorOf(() => decodeValue(Buffer.from('j1'), 2)).code).toBe('E_DECODE');
    expect(errorOf(() => decodeValue('j1' as unknown as Buffer)).code).toBe('E_DECODE');
  });

  it('does not quote the payload in decode errors', () => {
    const err = errorOf(() => decodeValue(payload(ValueKind.json, '{"secret":"hunter2"')));
    expect(err.message).not.toContain('hunter2');
    expect(err.cause).toBeUndefined();
  });

  it('decodes at an offset', () => {
    const buf = Buffer.concat([Buffer.from('header'), encodeValue({ a: NaN })]);
    expect(sameValue({ a: NaN }, decodeValue(buf, 6))).toBe(true);
    expect(encodeValue('x', 3).subarray(0, 3)).toEqual(Buffer.alloc(3));
  });

  it('property: every value round-trips exactly', () => {
    fc.assert(
      fc.property(richValue, (value) => {
        expect(sameValue(value, roundTrip(value))).toBe(true);
      }),
      { numRuns: LONG ? 50_000 : 1_500 },
    );
  });

  it('property: random or mutated bytes decode or throw E_DECODE, never pollute', () => {
    const sample = fc.oneof(
      fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
      fc.tuple(richValue, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([value, at, byte]) => {
        const buf = Buffer.from(encodeValue(value));
        buf[at % buf.length] = byte;
        return buf;
      }),
    );
    fc.assert(
      fc.property(sample, (buf) => {
        try {
          decodeValue(buf);
        } catch (err) {
          expect(err).toBeInstanceOf(CacheError);
          expect((err as CacheError).code).toBe('E_DECODE');
        }
        expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      }),
      { numRuns: LONG ? 50_000 : 1_500 },
    );
  });
});
