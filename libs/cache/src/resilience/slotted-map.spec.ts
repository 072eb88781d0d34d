import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { SlottedMap } from './slotted-map.js';

type Op =
  | { op: 'set'; key: number; value: number }
  | { op: 'delete'; key: number }
  | { op: 'get'; key: number }
  | { op: 'clear' };

/** Compares a SlottedMap with a plain Map after every operation: size, membership, values and iteration. */
function check(ops: Op[]): void {
  const slotted = new SlottedMap<string, { v: number }>();
  const model = new Map<string, { v: number }>();
  for (const step of ops) {
    if (step.op === 'clear') {
      slotted.clear();
      model.clear();
      continue;
    }
    const key = `k${step.key}`;
    if (step.op === 'set') {
      const value = { v: step.value };
      slotted.set(key, value);
      model.set(key, value);
    } else if (step.op === 'delete') {
      expect(slotted.delete(key)).toBe(model.delete(key));
    }
    expect(slotted.get(key)).toBe(model.get(key));
    expect(slotted.has(key)).toBe(model.has(key));
    expect(slotted.size).toBe(model.size);
  }
  const sorted = <T>(xs: [string, T][]): [string, T][] => [...xs].sort(([a], [b]) => a.localeCompare(b));
  expect(sorted(slotted.entries())).toEqual(sorted([...model.entries()]));
  expect(slotted.keys().sort()).toEqual([...model.keys()].sort());
  const seen: string[] = [];
  slotted.forEachKey((key) => seen.push(key));
  expect(seen.sort()).toEqual([...model.keys()].sort());
}

describe('SlottedMap', () => {
  it('behaves as a Map under any sequence of set / delete / get / clear, holes and sweeps included', () => {
    const key = fc.integer({ min: 0, max: 40 });
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ op: fc.constant('set' as const), key, value: fc.integer() }) },
      { weight: 4, arbitrary: fc.record({ op: fc.constant('delete' as const), key }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('get' as const), key }) },
      { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => check(ops)),
      { numRuns: 300 },
    );
  });

  it('keeps its inner Map bounded while keys churn through it (holes swept once they are many)', () => {
    const map = new SlottedMap<string, { i: number }>();
    const inFlight: string[] = [];
    // 64 in flight at a time over 100,000 distinct keys: what a busy registry sees.
    for (let i = 0; i < 100_000; i++) {
      const key = `key:${i}`;
      map.set(key, { i });
      inFlight.push(key);
      if (inFlight.length > 64) expect(map.delete(inFlight.shift()!)).toBe(true);
    }
    expect(map.size).toBe(64);
    const inner = (map as unknown as { rest: Map<string, unknown> }).rest;
    expect(inner.size).toBeLessThanOrEqual(2_048);
    for (const key of inFlight) expect(map.get(key)).toBeDefined();
    for (const key of inFlight.splice(0)) map.delete(key);
    expect(map.size).toBe(0);
    expect(map.entries()).toEqual([]);
  });
});
