import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { estimateHeapBytes, jsonHeapBound } from './heap-size.js';
import type { DecodeHints } from './value.codec.js';
import { decodeValue, encodeValue } from './value.codec.js';

/** Decodes `value`'s encoding, with the hints the decode gives. */
function decoded(value: unknown): { value: unknown; hints: DecodeHints } {
  const hints: DecodeHints = { asciiJson: true };
  return { value: decodeValue(encodeValue(value), 0, hints), hints };
}

/** The payload bytes of a plain-JSON value (kind byte, then UTF-8 JSON), from text as given. */
function jsonPayload(text: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x6a]), Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8')]);
}

const asciiText = /^[\x20-\x7e]*$/;

describe('estimateHeapBytes', () => {
  it('counts strings by their width, objects by their properties, doubles as boxed', () => {
    expect(estimateHeapBytes('abcd')).toBe(16 + 8);
    expect(estimateHeapBytes('abcdefghi')).toBe(16 + 16);
    expect(estimateHeapBytes('жжжжж')).toBe(16 + 16);
    expect(estimateHeapBytes(1)).toBe(0);
    expect(estimateHeapBytes(1.5)).toBe(16);
    expect(estimateHeapBytes({ a: 1, b: 'x' })).toBe(24 + 16 + 2 * 8 + 16 + 8);
    expect(estimateHeapBytes([1, 2])).toBe(24 + 16 + 2 * 8);
    expect(estimateHeapBytes(Buffer.alloc(1000))).toBe(96 + 1000);
  });

  it('the quick walk of a value decoded from ASCII JSON gives the full walk figure', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.jsonValue({ maxDepth: 6 }), fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' })),
        (value) => {
          const { value: back, hints } = decoded(value);
          const encoded = encodeValue(value);
          const text = encoded.toString('utf8', 1);
          // The hint is right: set exactly when the value is stored as plain JSON (-0 is not) in ASCII, no \u escape.
          expect(hints.asciiJson).toBe(encoded[0] === 0x6a && asciiText.test(text) && !text.includes('\\u'));
          if (hints.asciiJson) expect(estimateHeapBytes(back, true)).toBe(estimateHeapBytes(back));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('no hint for two-byte strings, \\u escapes, invalid UTF-8, tagged values or bytes', () => {
    const hints: DecodeHints = { asciiJson: true };
    const hinted = (payload: Buffer): boolean => {
      decodeValue(payload, 0, hints);
      return hints.asciiJson;
    };
    expect(hinted(jsonPayload('{"a":"plain"}'))).toBe(true);
    expect(hinted(jsonPayload('{"a":"é"}'))).toBe(false);
    expect(hinted(jsonPayload('{"a":"\\u0416"}'))).toBe(false);
    // One invalid byte decodes to one U+FFFD: as many characters as bytes, yet not ASCII.
    expect(hinted(jsonPayload(Buffer.from([0x22, 0xff, 0x22])))).toBe(false);
    expect(hinted(encodeValue(new Map([['a', 1]])))).toBe(false);
    expect(hinted(encodeValue(Buffer.from('abc')))).toBe(false);
    hints.asciiJson = true;
    expect(() => decodeValue(jsonPayload('{'), 0, hints)).toThrow();
    expect(hints.asciiJson).toBe(false);
  });

  it('walks a value nested far deeper than 1,000 levels without overflowing the stack, either way', () => {
    const depth = 20_000;
    const text = `${'['.repeat(depth)}1${']'.repeat(depth)}`;
    const hints: DecodeHints = { asciiJson: false };
    const value = decodeValue(jsonPayload(text), 0, hints);
    expect(hints.asciiJson).toBe(true);
    const quick = estimateHeapBytes(value, true);
    expect(quick).toBe(estimateHeapBytes(value));
    expect(quick).toBeGreaterThan(1_000 * 40);
  });

  it('a value decoded from ASCII JSON walks to no more than the bound of its encoded bytes', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (value) => {
        const encoded = encodeValue(value);
        const { value: back, hints } = decoded(value);
        if (hints.asciiJson) expect(estimateHeapBytes(back, true)).toBeLessThanOrEqual(jsonHeapBound(encoded.length));
      }),
      { numRuns: 1_000 },
    );
    // The shapes that cost most per character: empty arrays and objects, nested or side by side, one-element
    // arrays, many small properties, short strings, doubles; and nesting past the walk's depth limit.
    const texts = [
      '[]',
      '{}',
      `${'['.repeat(5_000)}${']'.repeat(5_000)}`,
      `${'[{"":'.repeat(2_000)}0${'}]'.repeat(2_000)}`,
      `[${Array.from({ length: 2_000 }, () => '[]').join(',')}]`,
      `[${Array.from({ length: 2_000 }, () => '{}').join(',')}]`,
      `{${Array.from({ length: 500 }, (_, i) => `"${i.toString(36)}":[]`).join(',')}}`,
      `[${Array.from({ length: 2_000 }, () => '""').join(',')}]`,
      `[${Array.from({ length: 2_000 }, () => '0.5').join(',')}]`,
    ];
    for (const text of texts) {
      const hints: DecodeHints = { asciiJson: false };
      const payload = jsonPayload(text);
      const value = decodeValue(payload, 0, hints);
      expect(hints.asciiJson).toBe(true);
      expect(estimateHeapBytes(value, true)).toBeLessThanOrEqual(jsonHeapBound(payload.length - 1));
    }
  });
});
