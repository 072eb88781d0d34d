import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { IdKeyMemo } from './id-key.memo.js';
import { KeySpace } from './key-space.js';

const space = new KeySpace('app');
const prefix = space.namespace('user');

describe('IdKeyMemo: an id key built once', () => {
  it('answers exactly the key the key space builds, whatever the number and the order of calls', () => {
    const special = fc.constantFrom(
      0,
      -0,
      -1,
      1023,
      1024,
      2 ** 31 - 1,
      2 ** 31,
      -(2 ** 31),
      1.5,
      NaN,
      Infinity,
      -Infinity,
    );
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.double(), special), { maxLength: 60 }),
        (ids) => {
          const memo = new IdKeyMemo((id) => space.entryUnder(prefix, id));
          // Each id twice: the second call is answered from the table when the first one filled it.
          for (const id of [...ids, ...ids]) {
            expect(memo.key(id)).toBe(space.entryUnder(prefix, id));
            expect(memo.key(id)).toBe(space.callUnder(prefix, [id]));
          }
        },
      ),
    );
  });

  it('keeps 0 and -0 apart, and two ids of one slot apart', () => {
    const memo = new IdKeyMemo((id) => space.entryUnder(prefix, id));
    expect(memo.key(0)).toBe('app:user:=n0');
    expect(memo.key(-0)).toBe('app:user:=n-0');
    expect(memo.key(0)).toBe('app:user:=n0');
    expect(memo.key(5)).toBe('app:user:=n5');
    expect(memo.key(5 + 1024)).toBe('app:user:=n1029');
    expect(memo.key(5)).toBe('app:user:=n5');
  });

  it('builds a memoized id once and others every time', () => {
    const built: number[] = [];
    const memo = new IdKeyMemo((id) => {
      built.push(id);
      return `k${id}`;
    });
    for (let i = 0; i < 3; i++) {
      memo.key(42);
      memo.key(-0);
      memo.key(2 ** 31);
      memo.key(0.5);
    }
    expect(built).toEqual([42, -0, 2 ** 31, 0.5, -0, 2 ** 31, 0.5, -0, 2 ** 31, 0.5]);
  });
});
