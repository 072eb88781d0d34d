import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { CacheEntry } from '../backends/cache-entry.js';
import { StoredEntry } from '../backends/cache-entry.js';
import { CacheError } from '../errors/cache.error.js';
import {
  ENTRY_LAYOUT,
  ENTRY_MAGIC,
  TOMBSTONE_MAGIC,
  decodeEntry,
  encodeEntry,
  encodeTombstone,
  tombstoneId,
} from './entry.codec.js';
import { ValueKind, encodeValue } from './value.codec.js';

const LONG = process.env['FC_LONG'] === '1';
const T0 = 1_700_000_000_000;

function decodeError(buf: Buffer): CacheError {
  try {
    decodeEntry(buf);
  } catch (err) {
    if (err instanceof CacheError) return err;
    throw err;
  }
  throw new Error('expected a CacheError');
}

const samples: CacheEntry[] = [
  { value: { id: 1, name: 'Ada', tags: ['a', 'b'], nested: { ok: true } }, createdAt: T0, expiresAt: T0 + 60_000 },
  {
    value: new Map<unknown, unknown>([
      [{ k: 1 }, new Set([1n, -0, NaN])],
      ['d', new Date(T0)],
    ]),
    createdAt: T0 + 0.5,
    expiresAt: Infinity,
  },
  { value: Buffer.from('raw file bytes \u0000\u00ff'), createdAt: 0, expiresAt: -1 },
  { value: 12345, createdAt: T0, expiresAt: T0 },
  { value: null, createdAt: T0, expiresAt: T0 + 1 },
];

describe('entry codec', () => {
  it('lays out magic, version, times, value length and value', () => {
    const entry = samples[0] as CacheEntry;
    const buf = encodeEntry(entry);
    const value = encodeValue(entry.value);
    expect(buf.toString('latin1', 0, 2)).toBe(ENTRY_MAGIC);
    expect([buf[0], buf[1]]).toEqual([0x54, 0x01]);
    expect(buf.readDoubleBE(ENTRY_LAYOUT.createdAt)).toBe(entry.createdAt);
    expect(buf.readDoubleBE(ENTRY_LAYOUT.expiresAt)).toBe(entry.expiresAt);
    expect(buf.readUInt32BE(ENTRY_LAYOUT.valueLength)).toBe(value.length);
    expect(buf.subarray(ENTRY_LAYOUT.value)).toEqual(value);
    expect(buf[ENTRY_LAYOUT.value]).toBe(ValueKind.json);
  });

  it('round-trips entries of every value kind, falsy values included', () => {
    for (const entry of samples) {
      const decoded = decodeEntry(encodeEntry(entry));
      expect(decoded.createdAt).toBe(entry.createdAt);
      expect(decoded.expiresAt).toBe(entry.expiresAt);
      expect(decoded.value).toEqual(entry.value);
    }
    for (const value of [0, '', false, null, -0])
      expect(Object.is(decodeEntry(encodeEntry({ value, createdAt: 1, expiresAt: 2 })).value, value)).toBe(true);
  });

  it('decodes into StoredEntry instances, never object literals (a pretenured literal keeps hit values alive)', () => {
    for (const entry of samples) {
      const decoded = decodeEntry(encodeEntry(entry));
      expect(decoded).toBeInstanceOf(StoredEntry);
      expect(Object.keys(decoded)).toEqual(['value', 'createdAt', 'expiresAt']);
    }
  });

  it('stores a large Buffer without base64', () => {
    const file = Buffer.alloc(5 * 1024 * 1024, 7);
    const buf = encodeEntry({ value: file, createdAt: T0, expiresAt: T0 + 1 });
    expect(buf.length).toBe(ENTRY_LAYOUT.value + 1 + file.length);
    expect(buf[ENTRY_LAYOUT.value]).toBe(ValueKind.bytes);
    expect((decodeEntry(buf).value as Buffer).equals(file)).toBe(true);
  });

  it('treats another version, a tombstone, garbage and trailing bytes as E_DECODE', () => {
    const good = encodeEntry(samples[0] as CacheEntry);
    const v2 = Buffer.from(good);
    v2[1] = 0x02;
    const trailing = Buffer.concat([good, Buffer.from([0])]);
    const nanTime = Buffer.from(good);
    nanTime.writeDoubleBE(NaN, ENTRY_LAYOUT.createdAt);
    const cases: [Buffer, string][] = [
      [v2, 'unsupported version 2'],
      [encodeTombstone('abc'), 'tombstone'],
      [Buffer.from('{"value":1}'), 'not an entry'],
      [Buffer.alloc(0), 'truncated'],
      [trailing, 'trailing bytes'],
      [nanTime, 'invalid timestamps'],
      ['text' as unknown as Buffer, 'not a Buffer'],
    ];
    for (const [buf, reason] of cases) {
      const err = decodeError(buf);
      expect(err.code).toBe('E_DECODE');
      expect(err.message).toContain(reason);
    }
  });

  it('throws E_DECODE, never another error, for every truncation of every sample', () => {
    let checked = 0;
    for (const entry of samples) {
      const buf = encodeEntry(entry);
      for (let length = 0; length < buf.length; length++) {
        expect(decodeError(buf.subarray(0, length)).code).toBe('E_DECODE');
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(200);
  });

  it('decodes a poisoned __proto__ envelope without pollution', () => {
    for (const [kind, json] of [
      [ValueKind.json, '{"__proto__":{"polluted":1},"a":1}'],
      [ValueKind.tagged, '{"__proto__":{"polluted":1},"b":{"$t":"n","v":"NaN"}}'],
    ] as const) {
      const value = Buffer.concat([Buffer.from([kind]), Buffer.from(json)]);
      const head = Buffer.alloc(ENTRY_LAYOUT.value);
      head.write(ENTRY_MAGIC, 0, 'latin1');
      head.writeDoubleBE(T0, ENTRY_LAYOUT.createdAt);
      head.writeDoubleBE(T0 + 1, ENTRY_LAYOUT.expiresAt);
      head.writeUInt32BE(value.length, ENTRY_LAYOUT.valueLength);
      const decoded = decodeEntry(Buffer.concat([head, value])).value as object;
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
      expect(Object.getOwnPropertyDescriptor(decoded, '__proto__')?.value).toEqual({ polluted: 1 });
    }
  });

  it('refuses NaN timestamps and unencodable values on write', () => {
    expect(() => encodeEntry({ value: 1, createdAt: NaN, expiresAt: 1 })).toThrow(CacheError);
    try {
      encodeEntry({ value: () => 1, createdAt: 1, expiresAt: 2 });
      throw new Error('expected a CacheError');
    } catch (err) {
      expect((err as CacheError).code).toBe('E_UNSERIALIZABLE_VALUE');
    }
  });

  it('property: random bytes and mutated envelopes decode or throw E_DECODE', () => {
    const mutated = fc
      .tuple(
        fc.constantFrom(...samples),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
      )
      .map(([entry, edits]) => {
        const buf = Buffer.from(encodeEntry(entry));
        for (const [at, byte] of edits) buf[at % buf.length] = byte;
        return buf;
      });
    const random = fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes));
    fc.assert(
      fc.property(fc.oneof(mutated, random), (buf) => {
        try {
          decodeEntry(buf);
        } catch (err) {
          expect(err).toBeInstanceOf(CacheError);
          expect((err as CacheError).code).toBe('E_DECODE');
        }
      }),
      { numRuns: LONG ? 50_000 : 1_500 },
    );
  });
});

describe('tombstones', () => {
  it('start with the tombstone magic and carry their id', () => {
    const id = '0b7e4c1a-6f1e-4b8e-9d3c-2a7f5e9c1d00';
    const buf = encodeTombstone(id);
    expect(buf.toString('latin1', 0, 2)).toBe(TOMBSTONE_MAGIC);
    expect(TOMBSTONE_MAGIC).toBe('T\u0000');
    expect([buf[0], buf[1]]).toEqual([0x54, 0x00]);
    expect(buf.toString('latin1', 2)).toBe(id);
    expect(tombstoneId(buf)).toBe(id);
  });

  it('are never mistaken for entries, and entries never for tombstones', () => {
    for (const entry of samples) expect(tombstoneId(encodeEntry(entry))).toBeNull();
    expect(ENTRY_MAGIC).not.toBe(TOMBSTONE_MAGIC);
  });

  it('reject ill-formed ids on write and ill-formed bytes on read', () => {
    for (const id of ['', 'has space', 'é', 'x'.repeat(129), 'a\u0000b']) {
      expect(() => encodeTombstone(id)).toThrow(CacheError);
    }
    expect(encodeTombstone('x'.repeat(128)).length).toBe(130);
    const bad = [
      Buffer.from([0x54, 0x00]),
      Buffer.from([0x54, 0x00, 0xc3, 0xa9]),
      Buffer.from([0x54, 0x00, 0x20]),
      Buffer.from('Tx-id'),
      Buffer.alloc(0),
    ];
    for (const buf of bad) expect(tombstoneId(buf)).toBeNull();
    expect(tombstoneId(null as unknown as Buffer)).toBeNull();
  });
});
