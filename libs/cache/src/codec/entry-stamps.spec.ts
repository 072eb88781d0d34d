import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { CacheError } from '../errors/cache.error.js';
import { decodeEntry, encodeEntry, ENTRY_MAGIC, entryStamps, stampEntry } from './entry.codec.js';

const T0 = 1_700_000_000_000;
const entry = { value: { id: 1, name: 'Ada' }, createdAt: T0, expiresAt: T0 + 60_000 };

describe('tag stamps in the entry envelope', () => {
  it('round-trips tags (any Unicode, up to 256 characters) and generations; the value and times are unchanged', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            tag: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 256 }),
            gen: fc.string({ unit: fc.constantFrom(...'abcXYZ019_-'), minLength: 1, maxLength: 40 }),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        (stamps) => {
          const stamped = stampEntry(encodeEntry(entry), stamps);
          expect(decodeEntry(stamped)).toEqual(entry);
          expect(entryStamps(stamped)).toEqual(stamps);
        },
      ),
    );
  });

  it('leaves an untagged entry in the plain layout (version byte 0x01, no stamps)', () => {
    const plain = encodeEntry(entry);
    expect(stampEntry(plain, [])).toBe(plain);
    expect(plain.toString('latin1', 0, 2)).toBe(ENTRY_MAGIC);
    expect(entryStamps(plain)).toEqual([]);
  });

  it('keeps the times where a live token looks for them; flags the version byte', () => {
    const plain = encodeEntry(entry);
    const stamped = stampEntry(plain, [{ tag: 'org:1', gen: 'g1' }]);
    expect(stamped[1]).toBe(0x81);
    expect(stamped.subarray(2, 18).equals(plain.subarray(2, 18))).toBe(true);
  });

  it('refuses a truncated or extended stamp section, and a second stamping', () => {
    const stamped = stampEntry(encodeEntry(entry), [{ tag: 'org:1', gen: 'g1' }]);
    for (const bad of [stamped.subarray(0, stamped.length - 1), Buffer.concat([stamped, Buffer.from([0])])]) {
      expect(() => decodeEntry(bad)).toThrow(CacheError);
      expect(() => entryStamps(bad)).toThrow(CacheError);
    }
    expect(() => stampEntry(stamped, [{ tag: 'x', gen: 'g' }])).toThrow(CacheError);
  });
});
