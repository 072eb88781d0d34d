import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { CacheBackend, WriteOptions } from '../../libs/cache/src/backends/cache-backend.interface.js';
import type { CacheEntry, ListReadResult, ReadResult } from '../../libs/cache/src/backends/cache-entry.js';
import { liveToken } from '../../libs/cache/src/backends/cache-entry.js';
import { encodeEntry } from '../../libs/cache/src/codec/entry.codec.js';
import { waitFor } from '../harness/wait-for.js';

/** What a contract run needs: a fresh backend, the key prefix it owns, and a way to release it. */
export interface BackendFixture {
  backend: CacheBackend;
  /** A prefix no other test uses; every key of the run starts with `<prefix>:`. */
  prefix: string;
  cleanup(): Promise<void>;
  /** Direct access to the store below the backend (Redis), to plant and inspect foreign keys. */
  raw?: {
    set(key: string, value: string): Promise<void>;
    exists(key: string): Promise<boolean>;
  };
}

const HOUR = 3_600_000;

function entryOf<T>(value: T, ttlMs: number): CacheEntry<T> {
  const now = Date.now();
  return { value, createdAt: now, expiresAt: now + ttlMs };
}

/** Writes `value` the way the service does: the encoded envelope bytes. */
function put(
  backend: CacheBackend,
  key: string,
  value: unknown,
  options?: WriteOptions,
  ttlMs = HOUR,
): Promise<boolean> {
  return backend.write(key, encodeEntry(entryOf(value, ttlMs)), ttlMs, options);
}

function valueOf<T>(result: ReadResult<T>): T | undefined {
  return result.hit ? result.entry.value : undefined;
}

function itemsOf<T>(result: ListReadResult<T>): T[] | undefined {
  return result.hit ? result.items : undefined;
}

function tokenOf(result: ReadResult | ListReadResult): string | null {
  if (result.hit) throw new Error('expected a miss');
  return result.token;
}

/**
 * The CacheBackend contract: one suite, run against every backend (memory, Redis, tiered).
 * Each test gets a fresh fixture from `factory` (its own prefix), so tests are independent of order.
 */
export function backendContract(name: string, factory: () => Promise<BackendFixture>): void {
  describe(`CacheBackend contract: ${name}`, () => {
    let fx: BackendFixture;
    let backend: CacheBackend;
    const key = (namespace: string, k: string): string => `${fx.prefix}:${namespace}:${k}`;

    beforeEach(async () => {
      fx = await factory();
      backend = fx.backend;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    describe('read / write / delete', () => {
      it('reads an absent key as a plain miss', async () => {
        expect(await backend.read(key('v', 'absent'))).toEqual({ hit: false, token: null });
      });

      it('null, 0, empty string, false, objects and arrays are real hits after a write', async () => {
        const values: unknown[] = [
          null,
          0,
          '',
          false,
          'text',
          -1.5,
          { id: 1, name: 'ann', tags: ['a'], nested: { ok: true, none: null } },
          [1, 'two', null, { three: 3 }],
          [],
        ];
        for (const [i, value] of values.entries()) {
          const k = key('v', `value-${i}`);
          const entry = entryOf(value, HOUR);
          expect(await backend.write(k, encodeEntry(entry), HOUR)).toBe(true);
          const read = await backend.read(k);
          expect(read.hit).toBe(true);
          if (!read.hit) continue;
          expect(read.entry.value).toEqual(value);
          expect(Object.is(read.entry.value, value) || typeof value === 'object').toBe(true);
          expect(read.entry.createdAt).toBe(entry.createdAt);
          expect(read.entry.expiresAt).toBe(entry.expiresAt);
        }
      });

      it('a second write replaces the first', async () => {
        const k = key('v', 'replace');
        await put(backend, k, { v: 1 });
        await put(backend, k, { v: 2 });
        expect(valueOf(await backend.read(k))).toEqual({ v: 2 });
      });

      it('an entry is a miss once its TTL has passed, and can be written again from that miss', async () => {
        const k = key('v', 'short');
        expect(await put(backend, k, 'brief', undefined, 80)).toBe(true);
        expect(valueOf(await backend.read(k))).toBe('brief');
        await waitFor(async () => !(await backend.read(k)).hit, { timeoutMs: 3000, message: `${k} to expire` });
        const miss = await backend.read(k);
        expect(await put(backend, k, 'again', { ifToken: tokenOf(miss) })).toBe(true);
        expect(valueOf(await backend.read(k))).toBe('again');
      });

      it('delete leaves a miss for exactly the keys given', async () => {
        const [a, b, c] = [key('d', 'a'), key('d', 'b'), key('d', 'c')];
        await put(backend, a, 1);
        await put(backend, b, 2);
        await put(backend, c, 3);
        await backend.delete([a, b]);
        expect((await backend.read(a)).hit).toBe(false);
        expect((await backend.read(b)).hit).toBe(false);
        expect(valueOf(await backend.read(c))).toBe(3);
        await backend.delete([]);
        await backend.delete([key('d', 'never-written')]);
        expect((await backend.read(key('d', 'never-written'))).hit).toBe(false);
      });
    });

    describe('guarded writes', () => {
      it('a guarded write from a miss succeeds when nothing changed since the read', async () => {
        const k = key('g', 'fresh');
        const miss = await backend.read(k);
        expect(tokenOf(miss)).toBeNull();
        expect(await put(backend, k, 'loaded', { ifToken: tokenOf(miss) })).toBe(true);
        expect(valueOf(await backend.read(k))).toBe('loaded');
      });

      it('a delete between the read and the write makes the guarded write skip', async () => {
        const k = key('g', 'raced');
        const miss = await backend.read(k);
        await backend.delete([k]);
        expect(await put(backend, k, 'stale', { ifToken: tokenOf(miss) })).toBe(false);
        expect((await backend.read(k)).hit).toBe(false);
      });

      it('a delete of a cached value between the read and the write makes the guarded write skip', async () => {
        const k = key('g', 'cached-then-deleted');
        await put(backend, k, 'v1');
        await backend.delete([k]);
        const miss = await backend.read(k);
        await backend.delete([k]);
        expect(await put(backend, k, 'stale', { ifToken: tokenOf(miss) })).toBe(false);
        expect((await backend.read(k)).hit).toBe(false);
      });

      it('a guarded write from the state after a delete succeeds when nothing changed since', async () => {
        const k = key('g', 'after-delete');
        await put(backend, k, 'v1');
        await backend.delete([k]);
        const miss = await backend.read(k);
        expect(await put(backend, k, 'v2', { ifToken: tokenOf(miss) })).toBe(true);
        expect(valueOf(await backend.read(k))).toBe('v2');
      });

      it('a write by someone else between the read and the write makes the guarded write skip', async () => {
        const k = key('g', 'overtaken');
        const miss = await backend.read(k);
        expect(await put(backend, k, 'newer')).toBe(true);
        expect(await put(backend, k, 'older', { ifToken: tokenOf(miss) })).toBe(false);
        expect(valueOf(await backend.read(k))).toBe('newer');
      });

      it('an unconditional write always succeeds, also over a deletion', async () => {
        const k = key('g', 'forced');
        const miss = await backend.read(k);
        await backend.delete([k]);
        expect(await put(backend, k, 'through')).toBe(true);
        expect(valueOf(await backend.read(k))).toBe('through');
        expect(tokenOf(miss)).toBeNull();
      });
    });

    describe('stale entries and live tokens', () => {
      it('an entry past expiresAt but within its stored TTL is a stale hit, named by its live token', async () => {
        const k = key('s', 'grace');
        const now = Date.now();
        const stale = { value: 'old', createdAt: now - 2_000, expiresAt: now - 1_000 };
        expect(await backend.write(k, encodeEntry(stale), HOUR)).toBe(true);
        const read = await backend.read(k);
        expect(read.hit && read.entry).toEqual(stale);
        const token = read.hit ? liveToken(read.entry) : undefined;
        expect(typeof token).toBe('string');
        // A reload guarded by that token replaces exactly this entry...
        expect(await put(backend, k, 'new', { ifToken: token })).toBe(true);
        expect(valueOf(await backend.read(k))).toBe('new');
        // ...and never a newer one.
        expect(await put(backend, k, 'older', { ifToken: token })).toBe(false);
        expect(valueOf(await backend.read(k))).toBe('new');
      });

      it('a write guarded by the token of a live entry skips once that entry was deleted', async () => {
        const k = key('s', 'refresh');
        await put(backend, k, 'v1');
        const read = await backend.read(k);
        const token = read.hit ? liveToken(read.entry) : undefined;
        expect(typeof token).toBe('string');
        await backend.delete([k]);
        expect(await put(backend, k, 'refreshed', { ifToken: token })).toBe(false);
        expect((await backend.read(k)).hit).toBe(false);
      });
    });

    describe('tags', () => {
      it('invalidateTags removes exactly the tagged keys, across namespaces, and counts them', async () => {
        const a = key('t1', 'a');
        const b = key('t1', 'b');
        const c = key('t2', 'c');
        const d = key('t2', 'd');
        await put(backend, a, 'a', { tags: ['user:1'] });
        await put(backend, b, 'b', { tags: ['user:1', 'user:2'] });
        await put(backend, c, 'c', { tags: ['user:1'] });
        await put(backend, d, 'd', { tags: ['user:2'] });
        const untagged = key('t1', 'untagged');
        await put(backend, untagged, 'u');

        expect(await backend.invalidateTags(['user:1'])).toBe(3);
        for (const k of [a, b, c]) expect((await backend.read(k)).hit).toBe(false);
        expect(valueOf(await backend.read(d))).toBe('d');
        expect(valueOf(await backend.read(untagged))).toBe('u');

        await backend.invalidateTags(['user:2']);
        expect((await backend.read(d)).hit).toBe(false);
        expect(valueOf(await backend.read(untagged))).toBe('u');
        expect(await backend.invalidateTags(['no-such-tag'])).toBe(0);
      });

      it('a tag invalidation between a read and a guarded write makes the write skip', async () => {
        const k = key('t1', 'guarded');
        const miss = await backend.read(k);
        await put(backend, k, 'written-through', { tags: ['order:9'] });
        expect(await backend.invalidateTags(['order:9'])).toBe(1);
        expect(await put(backend, k, 'stale', { ifToken: tokenOf(miss) })).toBe(false);
        expect((await backend.read(k)).hit).toBe(false);
      });

      it('after a tag invalidation, the reload of an entry lands and new entries of the tag are served', async () => {
        const k = key('t1', 'reloaded');
        const fresh = key('t1', 'fresh');
        await put(backend, k, 'old', { tags: ['org:7', 'org:8'] });
        await backend.invalidateTags(['org:7']);
        const miss = await backend.read(k);
        expect(miss.hit).toBe(false);
        expect(await put(backend, k, 'new', { tags: ['org:7', 'org:8'], ifToken: tokenOf(miss) })).toBe(true);
        await put(backend, fresh, 'fresh', { tags: ['org:7'] });
        expect(valueOf(await backend.read(k))).toBe('new');
        expect(valueOf(await backend.read(fresh))).toBe('fresh');
        // The other tag of the entry still covers the reloaded value.
        await backend.invalidateTags(['org:8']);
        expect((await backend.read(k)).hit).toBe(false);
        expect(valueOf(await backend.read(fresh))).toBe('fresh');
      });

      it('an updated entry still belongs to its tags', async () => {
        const k = key('t1', 'counter');
        await put(backend, k, 1, { tags: ['counter'] });
        expect(await backend.update<number>(k, (n) => n + 1)).toBe(2);
        expect(await backend.invalidateTags(['counter'])).toBe(1);
        expect((await backend.read(k)).hit).toBe(false);
      });
    });

    describe('clearPrefix', () => {
      it('removes only the keys under the prefix and counts them', async () => {
        const gone = [key('users', '1'), key('users', '2'), key('users', 'a:b')];
        const kept = [key('users2', '1'), key('user', 's:1'), key('orders', '1')];
        for (const k of [...gone, ...kept]) await put(backend, k, k);
        expect(await backend.clearPrefix(`${fx.prefix}:users:`)).toBe(3);
        for (const k of gone) expect((await backend.read(k)).hit).toBe(false);
        for (const k of kept) expect(valueOf(await backend.read(k))).toBe(k);
        expect(await backend.clearPrefix(`${fx.prefix}:users:`)).toBe(0);
      });

      it('treats glob characters in the prefix literally', async () => {
        const star = key('a*', '1');
        const question = key('a?', '1');
        const klass = key('[a-z]', '1');
        const neighbours = [key('ab', '1'), key('a', '1'), key('b', '1'), key('az', '1')];
        for (const k of [star, question, klass, ...neighbours]) await put(backend, k, k);
        expect(await backend.clearPrefix(`${fx.prefix}:a*`)).toBe(1);
        expect(await backend.clearPrefix(`${fx.prefix}:a?`)).toBe(1);
        expect(await backend.clearPrefix(`${fx.prefix}:[a-z]`)).toBe(1);
        for (const k of [star, question, klass]) expect((await backend.read(k)).hit).toBe(false);
        for (const k of neighbours) expect(valueOf(await backend.read(k))).toBe(k);
      });

      it('never touches keys outside the prefix written straight into the store', async () => {
        if (!fx.raw) return;
        const foreign = [
          `other-app:${fx.prefix}:users:1`,
          `${fx.prefix}x:users:1`,
          `${fx.prefix}:users`,
          `x${fx.prefix}:users:1`,
        ];
        for (const k of foreign) await fx.raw.set(k, 'not ours');
        await put(backend, key('users', '1'), 'ours');
        expect(await backend.clearPrefix(`${fx.prefix}:users:`)).toBe(1);
        for (const k of foreign) expect(await fx.raw.exists(k)).toBe(true);
        expect((await backend.read(key('users', '1'))).hit).toBe(false);
      });
    });

    describe('update', () => {
      it('replaces the value atomically and keeps the entry times', async () => {
        const k = key('u', 'balance');
        const entry = entryOf({ balance: 100 }, HOUR);
        await backend.write(k, encodeEntry(entry), HOUR);
        expect(await backend.update<{ balance: number }>(k, (cur) => ({ balance: cur.balance - 30 }))).toEqual({
          balance: 70,
        });
        const read = await backend.read<{ balance: number }>(k);
        expect(read.hit && read.entry.value).toEqual({ balance: 70 });
        expect(read.hit && read.entry.expiresAt).toBe(entry.expiresAt);
      });

      it('undefined from the function deletes the entry', async () => {
        const k = key('u', 'drop');
        await put(backend, k, 'x');
        expect(await backend.update(k, () => undefined)).toBeUndefined();
        expect((await backend.read(k)).hit).toBe(false);
      });

      it('an absent or deleted key gives undefined, never calls the function and creates nothing', async () => {
        const k = key('u', 'absent');
        let calls = 0;
        expect(await backend.update<number>(k, (n) => (calls++, n + 1))).toBeUndefined();
        await put(backend, k, 1);
        await backend.delete([k]);
        expect(await backend.update<number>(k, (n) => (calls++, n + 1))).toBeUndefined();
        expect(calls).toBe(0);
        expect((await backend.read(k)).hit).toBe(false);
      });

      it('50 concurrent increments: none is lost (the entry may be dropped under contention)', async () => {
        const k = key('u', 'counter');
        await put(backend, k, 0);
        const results = await Promise.all(Array.from({ length: 50 }, () => backend.update<number>(k, (n) => n + 1)));
        const landed = results.filter((r): r is number => r !== undefined);
        // Each increment that landed saw a different predecessor: a lost update shows up as a repeated value.
        expect(new Set(landed).size).toBe(landed.length);
        for (const n of landed) expect(n >= 1 && n <= 50).toBe(true);
        const final = await backend.read<number>(k);
        if (final.hit) {
          expect(final.entry.value).toBe(50);
          expect(landed.length).toBe(50);
        } else {
          expect(landed.length).toBeLessThan(50);
        }
      });
    });

    describe('lists', () => {
      it('reads an uncached list as a miss', async () => {
        expect(await backend.readList(key('l', 'absent'))).toEqual({ hit: false, token: null });
      });

      it('writeList then readList returns the items in order, keeping the last maxLength', async () => {
        const k = key('l', 'history');
        const items = [{ role: 'user', text: 'hi' }, null, 0, '', false, 'ünïcødé ✓'];
        expect(await backend.writeList(k, items, 10, HOUR)).toBe(true);
        expect(itemsOf(await backend.readList(k))).toEqual(items);
        expect(await backend.writeList(k, [1, 2, 3, 4, 5], 3, HOUR)).toBe(true);
        expect(itemsOf(await backend.readList(k))).toEqual([3, 4, 5]);
      });

      it('append to a cached list keeps the last N in order', async () => {
        const k = key('l', 'capped');
        await backend.writeList(k, ['a', 'b', 'c'], 3, HOUR);
        expect(await backend.append(k, ['d', 'e'], 3, HOUR)).toBe(true);
        expect(itemsOf(await backend.readList(k))).toEqual(['c', 'd', 'e']);
        expect(await backend.append(k, [{ f: 1 }], 3, HOUR)).toBe(true);
        expect(itemsOf(await backend.readList(k))).toEqual(['d', 'e', { f: 1 }]);
        expect(await backend.append(k, ['g', 'h', 'i', 'j'], 3, HOUR)).toBe(true);
        expect(itemsOf(await backend.readList(k))).toEqual(['h', 'i', 'j']);
      });

      it('append to a list that is not cached does nothing', async () => {
        const k = key('l', 'not-cached');
        expect(await backend.append(k, ['x'], 5, HOUR)).toBe(false);
        expect((await backend.readList(k)).hit).toBe(false);
        await backend.writeList(k, ['a'], 5, HOUR);
        await backend.delete([k]);
        expect(await backend.append(k, ['x'], 5, HOUR)).toBe(false);
        expect((await backend.readList(k)).hit).toBe(false);
      });

      it('an empty list is a hit and can be appended to', async () => {
        const k = key('l', 'empty');
        expect(await backend.writeList(k, [], 5, HOUR)).toBe(true);
        expect(await backend.readList(k)).toEqual({ hit: true, items: [] });
        expect(await backend.append(k, [1], 5, HOUR)).toBe(true);
        expect(itemsOf(await backend.readList(k))).toEqual([1]);
      });

      it('a guarded writeList succeeds from an untouched miss and skips after a delete', async () => {
        const fresh = key('l', 'guard-fresh');
        const miss = await backend.readList(fresh);
        expect(await backend.writeList(fresh, ['loaded'], 5, HOUR, { ifToken: tokenOf(miss) })).toBe(true);
        expect(itemsOf(await backend.readList(fresh))).toEqual(['loaded']);

        const raced = key('l', 'guard-raced');
        const before = await backend.readList(raced);
        await backend.delete([raced]);
        expect(await backend.writeList(raced, ['stale'], 5, HOUR, { ifToken: tokenOf(before) })).toBe(false);
        expect((await backend.readList(raced)).hit).toBe(false);
      });

      it('a list expires after its TTL', async () => {
        const k = key('l', 'brief');
        await backend.writeList(k, ['x'], 5, 80);
        expect(itemsOf(await backend.readList(k))).toEqual(['x']);
        await waitFor(async () => !(await backend.readList(k)).hit, { timeoutMs: 3000, message: `${k} to expire` });
      });
    });
  });
}
