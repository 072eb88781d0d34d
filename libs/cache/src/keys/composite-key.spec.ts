import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { composeKey, composePrefix, MAX_PART_LENGTH } from './composite-key.js';

describe('composeKey / composePrefix', () => {
  it('joins parts with ":" and escapes separators, backslashes and a leading "#"', () => {
    expect(composeKey(123, '2026-11-22')).toBe('123:2026-11-22');
    expect(composeKey('a:b')).toBe('a\\:b');
    expect(composeKey('a\\', 'b')).toBe('a\\\\:b');
    expect(composeKey('#x')).toBe('\\#x');
    expect(composeKey('')).toBe('');
    expect(composePrefix([123])).toBe('123:');
  });

  it('keeps glob characters literal (they are escaped when a scan pattern is built)', () => {
    expect(composeKey('*', '?', '[a-z]')).toBe('*:?:[a-z]');
  });

  it('hashes long parts to a fixed length', () => {
    const long = 'x'.repeat(MAX_PART_LENGTH + 1);
    expect(composeKey(long)).toMatch(/^#[A-Za-z0-9_-]{43}$/);
    expect(composeKey(long)).not.toBe(composeKey(`${long}y`));
  });

  it('a key starts with the prefix of the same parts, and never with the prefix of different parts', () => {
    const part = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 8 }),
      fc.constantFrom(':', '\\', '\\:', '*', '#', '', 'a:', ':a'),
      fc.integer(),
    );
    fc.assert(
      fc.property(
        fc.array(part, { minLength: 1, maxLength: 3 }),
        fc.array(part, { minLength: 1, maxLength: 3 }),
        fc.array(part, { maxLength: 2 }),
        (a, b, rest) => {
          const key = composeKey(...a, ...rest);
          expect(key.startsWith(composePrefix(a)) || rest.length === 0).toBe(true);
          const same = a.length <= b.length && a.every((p, i) => String(p) === String(b[i]));
          if (!same && a.length === b.length)
            expect(composeKey(...b, ...rest).startsWith(composePrefix(a))).toBe(false);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
