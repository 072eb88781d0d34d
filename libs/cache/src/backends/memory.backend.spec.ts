import { describe, expect, it } from '@jest/globals';
import { decodeEntry, encodeEntry } from '../codec/entry.codec.js';
import { StoredEntry } from './cache-entry.js';
import { MemoryBackend } from './memory.backend.js';

const entry = (value: unknown) => ({ value, createdAt: Date.now(), expiresAt: Date.now() + 60_000 });

describe('MemoryBackend: fills from another tier', () => {
  it('an entry whose tags are unknown goes with any tag invalidation; one filled after it stays', () => {
    const mem = new MemoryBackend({ maxEntries: 100, maxBytes: 1024 * 1024 });
    mem.fill(mem.watch('k1'), entry('v1'), 60_000, 'unknown');
    mem.fill(mem.watch('k2'), entry('v2'), 60_000, ['t:2']);
    mem.fill(mem.watch('k3'), entry('v3'), 60_000, undefined);
    expect(mem.peek('k1')?.value).toBe('v1');

    expect(mem.invalidateTagsSync(['t:other'])).toBe(0);
    expect(mem.peek('k1')).toBeUndefined();
    expect(mem.fresh('k1')).toBeNull();
    expect(mem.peek('k2')?.value).toBe('v2');
    expect(mem.peek('k3')?.value).toBe('v3');

    mem.fill(mem.watch('k1'), entry('v1b'), 60_000, 'unknown');
    expect(mem.fresh('k1')?.value).toBe('v1b');
    expect(mem.invalidateTagsSync(['t:2'])).toBe(1);
    expect([mem.peek('k1'), mem.peek('k2'), mem.peek('k3')?.value]).toEqual([undefined, undefined, 'v3']);
  });

  it('a fill that read the key before a write, a delete or a clear of it stores nothing', () => {
    const mem = new MemoryBackend({ maxEntries: 100, maxBytes: 1024 * 1024 });
    const beforeWrite = mem.watch('a');
    mem.put('a', entry('written'), 60_000);
    mem.fill(beforeWrite, entry('old'), 60_000, undefined);
    expect(mem.peek('a')).toBeUndefined(); // which one is newer is unknown: neither is kept

    const beforeDelete = mem.watch('b');
    mem.deleteSync(['b']);
    mem.fill(beforeDelete, entry('old'), 60_000, undefined);
    expect(mem.peek('b')).toBeUndefined();

    const beforeClear = mem.watch('app:c');
    const unrelated = mem.watch('other');
    mem.clearPrefixSync('app:');
    mem.fill(beforeClear, entry('old'), 60_000, undefined);
    mem.fill(unrelated, entry('kept?'), 60_000, undefined);
    expect(mem.peek('app:c')).toBeUndefined();
    // A prefix clear drops every fill then in flight (keys are not tracked one by one): the safe side.
    expect(mem.peek('other')).toBeUndefined();

    const after = mem.watch('a');
    mem.fill(after, entry('fresh'), 60_000, undefined);
    expect(mem.peek('a')?.value).toBe('fresh');
  });

  it('fresh: the entry while fresh, undefined for one kept for grace (peek has it), null when peek has nothing', () => {
    const mem = new MemoryBackend({ maxEntries: 100, maxBytes: 1024 * 1024 });
    const now = Date.now();
    mem.put('fresh', { value: 1, createdAt: now, expiresAt: now + 60_000 }, 60_000);
    mem.put('grace', { value: 2, createdAt: now - 10_000, expiresAt: now - 1 }, 60_000);
    expect(mem.fresh('fresh')?.value).toBe(1);
    expect(mem.fresh('grace')).toBeUndefined();
    expect(mem.peek('grace')?.value).toBe(2);
    expect(mem.fresh('absent')).toBeNull();
  });

  it('fillUntilExpiry serves a filled entry until its own expiry, or for maxTtl when that is shorter', () => {
    const now = Date.now();
    const uncapped = new MemoryBackend({ maxEntries: 10, maxBytes: 1024 * 1024 });
    uncapped.fillUntilExpiry(uncapped.watch('k'), { value: 'v', createdAt: now, expiresAt: now + 60_000 }, undefined);
    expect(uncapped.peek('k', now + 59_999)?.value).toBe('v');
    expect(uncapped.peek('k', now + 60_000)).toBeUndefined();

    const capped = new MemoryBackend({ maxEntries: 10, maxBytes: 1024 * 1024, maxTtlMs: 1_000 });
    capped.fillUntilExpiry(capped.watch('k'), { value: 'v', createdAt: now, expiresAt: now + 60_000 }, undefined);
    const deadline = Date.now() + 1_000;
    expect(capped.peek('k', now + 999)?.value).toBe('v');
    expect(capped.peek('k', deadline + 1)).toBeUndefined();
  });

  it('every path in sizes an entry alike: put, write, fill from bytes, and a fill told the value is ASCII JSON', () => {
    const value = { id: 7, name: 'Ada Lovelace', tags: ['a', 'bb'], score: 1.5, nested: { ok: true } };
    const now = Date.now();
    const stored = { value, createdAt: now, expiresAt: now + 60_000 };
    const encoded = encodeEntry(stored);
    const sizes: number[] = [];
    const measure = (store: (mem: MemoryBackend) => unknown): void => {
      const mem = new MemoryBackend({ maxEntries: 10, maxBytes: 1024 * 1024 });
      store(mem);
      expect(mem.peek('k')?.value).toEqual(value);
      sizes.push(mem.usage.bytes);
    };
    measure((mem) => mem.put('k', stored, 60_000));
    measure((mem) => mem.write('k', encoded, 60_000));
    measure((mem) => mem.fillEncoded(mem.watch('k'), encoded, 60_000, undefined));
    measure((mem) => mem.fillUntilExpiry(mem.watch('k'), decodeEntry(encoded), undefined, encoded.length));
    measure((mem) => mem.fillUntilExpiry(mem.watch('k'), decodeEntry(encoded), undefined));
    expect(new Set(sizes).size).toBe(1);
    expect(sizes[0]).toBeGreaterThan(new MemoryBackend({ maxEntries: 10, maxBytes: 1024 * 1024 }).usage.bytes + 240);
  });

  it('what it holds is made by new, never a literal, whichever path stored it (no pretenured allocation site)', async () => {
    const mem = new MemoryBackend({ maxEntries: 10, maxBytes: 1024 * 1024 });
    const encoded = encodeEntry(entry({ n: 1 }));
    await mem.write('w', encoded, 60_000);
    mem.fillEncoded(mem.watch('f'), encoded, 60_000, undefined);
    mem.fillUntilExpiry(mem.watch('r'), decodeEntry(encoded), undefined);
    await mem.put('u', entry({ n: 1 }), 60_000);
    await mem.update<{ n: number }>('u', (v) => ({ n: v.n + 1 }));
    for (const key of ['w', 'f', 'r', 'u']) expect(mem.peek(key)).toBeInstanceOf(StoredEntry);
    expect(mem.peek('u')?.value).toEqual({ n: 2 });
  });

  it('an update is sized for its new value', () => {
    const mem = new MemoryBackend({ maxEntries: 10, maxBytes: 1024 * 1024 });
    mem.put('k', entry({ n: 1 }), 60_000);
    const small = mem.usage.bytes;
    return mem
      .update<{ n: number; text?: string }>('k', (v) => ({ ...v, text: 'x'.repeat(1000) }))
      .then(() => {
        expect(mem.usage.bytes).toBeGreaterThanOrEqual(small + 1000);
        expect(mem.peek('k')?.value).toEqual({ n: 1, text: 'x'.repeat(1000) });
      });
  });
});

describe('MemoryBackend: values counted at their bound until the bytes held must be exact', () => {
  const encodedEntry = (value: unknown): Buffer => encodeEntry(entry(value));
  /** A value of ~200 to ~700 bytes of JSON, shaped by `i`. */
  const valueOf = (i: number): unknown =>
    i % 3 === 0
      ? { id: i, name: `user ${i}`, tags: Array.from({ length: i % 7 }, (_, j) => `t${j}`) }
      : i % 3 === 1
        ? Array.from({ length: 10 + (i % 13) }, (_, j) => [j, [], {}])
        : { text: 'x'.repeat(100 + ((i * 37) % 500)), n: i + 0.5 };

  it('holds the same entries, and counts the same bytes when asked, as a tier that sizes every value at once', () => {
    // Small enough in bytes that most fills evict: laziness must never change what is held.
    const options = { maxEntries: 500, maxBytes: 200_000 };
    const lazy = new MemoryBackend(options);
    const eager = new MemoryBackend(options);
    for (let i = 0; i < 3_000; i++) {
      const key = `k${i % 700}`;
      const encoded = encodedEntry(valueOf(i));
      if (i % 5 === 4) {
        lazy.write(key, encoded, 60_000);
        eager.put(key, decodeEntry(encoded), 60_000);
      } else {
        lazy.fillEncoded(lazy.watch(key), encoded, 60_000, undefined);
        eager.fillUntilExpiry(eager.watch(key), decodeEntry(encoded), undefined);
      }
      if (i % 250 === 0 || i === 2_999) {
        const held = (mem: MemoryBackend): string[] =>
          Array.from({ length: 700 }, (_, k) => `k${k}`).filter((k) => mem.peek(k) !== undefined);
        expect(held(lazy)).toEqual(held(eager));
        expect(lazy.usage).toEqual(eager.usage);
        expect(lazy.usage.bytes).toBeLessThanOrEqual(options.maxBytes);
      }
    }
  });

  it('never counts less than the values it holds walk to, and walks them all when asked', () => {
    const mem = new MemoryBackend({ maxEntries: 1_000, maxBytes: 64 * 1024 * 1024 });
    const counted = (): number => (mem as unknown as { bytes: { total: number } }).bytes.total;
    /** What an empty tier of `maxEntries` reports: its index. */
    const index = (maxEntries: number): number => new MemoryBackend({ maxEntries, maxBytes: 1 << 26 }).usage.bytes;
    let exact = 0;
    for (let i = 0; i < 300; i++) {
      const encoded = encodedEntry(valueOf(i));
      const before = counted();
      mem.fillEncoded(mem.watch(`k${i}`), encoded, 60_000, undefined);
      const eager = new MemoryBackend({ maxEntries: 1, maxBytes: 64 * 1024 * 1024 });
      eager.fillUntilExpiry(eager.watch(`k${i}`), decodeEntry(encoded), undefined);
      const size = eager.usage.bytes - index(1);
      exact += size;
      // Far below its bound, the tier counts the value's bound: at least its walked size.
      expect(counted() - before).toBeGreaterThanOrEqual(size);
    }
    expect(counted()).toBeGreaterThan(exact);
    expect(mem.usage.bytes - index(1_000)).toBe(exact);
    expect(counted()).toBe(exact);
  });
});
