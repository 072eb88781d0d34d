// Drill 18 — pattern injection: ids like `*`, `?`, `[a-z]`, `\`, the empty string and 10 KB strings; invalidating
// one (delete by key, @CacheInvalidate, invalidatePrefix, tags) removes only its own entry — in Redis and in the
// memory tier — and `INFO commandstats` shows that KEYS was never sent. (test/cache/prefix-invalidation.spec.ts
// covers invalidatePrefix with composed parts; here every path runs over the same hostile ids, with globs that
// would match their neighbours — `[a-z]` vs `a`, `*` vs everything.)
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { Redis } from 'ioredis';
import { Cached, CacheInvalidate, CacheService, composeKey } from 'nestjs-tiercache';
import type { CacheStore } from '../../libs/cache/src/backends/cache-store.js';
import { tombstoneId } from '../../libs/cache/src/codec/entry.codec.js';
import { bootCache } from '../cache/fixtures.js';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { reportDrill } from './support/processes.js';
import { engineOf, entryKey } from '../support/cache-internals.js';

// Real servers, processes and fault injection: slower than a unit test, especially on a loaded machine.
jest.setTimeout(60_000);

const TEN_KB = 'x'.repeat(10 * 1024);
const IDS = [
  '*',
  '?',
  '[a-z]',
  '\\',
  '',
  TEN_KB,
  `${TEN_KB.slice(1)}y`,
  'a',
  'b',
  'z',
  'ab',
  '[',
  ']',
  '^',
  '-',
  '\\*',
  'a*',
  '*a',
  '?a',
  '#',
  '#x',
  ':',
  'a:b',
  '%',
  '{}',
  ' ',
  'é',
  '\n',
];
/** MONITOR prints arguments the way redis-cli quotes them (`\\` for a backslash, `\xHH`, `\n`…); ioredis passes that on. */
function unrepr(text: string): string {
  const named: Record<string, string> = { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b', '\\': '\\', '"': '"' };
  return text.replace(/\\(x[0-9a-fA-F]{2}|[\s\S])/g, (_m, c: string) =>
    c.length === 3 ? String.fromCharCode(parseInt(c.slice(1), 16)) : (named[c] ?? c),
  );
}
const label = (id: string): string => (id.length > 20 ? `${id.length} chars` : JSON.stringify(id));

@Injectable()
class Items {
  loads = 0;

  @Cached({
    namespace: 'item',
    key: (id: string) => id,
    tags: (id: string) => (id.length <= 200 ? [`item:${id}`] : []),
  })
  async get(id: string): Promise<string> {
    this.loads++;
    return `v:${id.length}:${id.slice(0, 8)}`;
  }

  @CacheInvalidate({ namespace: 'item', key: (id: string) => id })
  async remove(_id: string): Promise<void> {
    // The database delete would go here.
  }
}

let redis: RedisServer;
let raw: Redis;
let app: INestApplicationContext;
let items: Items;
let cache: CacheService;
let store: CacheStore;
const figures: Record<string, unknown> = {};

/** Whether the entry of `id` is live in Redis (a tombstone or nothing counts as removed) and in the memory tier. */
async function liveIn(namespace: string, key: string): Promise<{ redis: boolean; memory: boolean }> {
  const k = entryKey(app, namespace, key);
  const bytes = await raw.getBuffer(k);
  return { redis: bytes !== null && tombstoneId(bytes) === null, memory: store.memory?.peek(k) !== undefined };
}

async function fillItems(): Promise<void> {
  for (const id of IDS) await items.get(id);
  // Twice: the second read lands in the memory tier once the bus is subscribed.
  await waitFor(
    async () => {
      for (const id of IDS) await items.get(id);
      return (await Promise.all(IDS.map((id) => liveIn('item', id)))).every((s) => s.redis && s.memory);
    },
    { timeoutMs: 5_000, message: 'every item in Redis and in the memory tier' },
  );
}

beforeAll(async () => {
  redis = await RedisServer.start();
  raw = new Redis({ port: redis.port, lazyConnect: true, maxRetriesPerRequest: 0, disconnectTimeout: 0 });
  raw.on('error', () => undefined);
  await raw.connect();
  app = await bootCache({ prefix: 'drill18', redis: redis.url, memory: { maxEntries: 10_000 } }, [Items]);
  items = app.get(Items);
  cache = app.get(CacheService);
  store = engineOf(app).store;
  await raw.call('CONFIG', 'RESETSTAT');
});
afterAll(async () => {
  await app?.close();
  await raw?.quit();
  await redis?.stop();
  reportDrill('18', figures, `pattern injection: ${JSON.stringify(figures)}`);
});

type Path = 'delete by key' | '@CacheInvalidate' | 'invalidateTags';
const paths: [Path, (id: string) => Promise<unknown>][] = [
  ['delete by key', (id) => cache.delete('item', id)],
  ['@CacheInvalidate', (id) => items.remove(id)],
  ['invalidateTags', (id) => cache.invalidateTags([`item:${id}`])],
];

describe('drill 18: hostile ids invalidate only their own entry', () => {
  it.each(paths)('%s', async (path, invalidate) => {
    await fillItems();
    let checked = 0;
    for (const target of IDS) {
      if (path === 'invalidateTags' && target.length > 200) continue;
      await invalidate(target);
      for (const id of IDS) {
        const state = await liveIn('item', id);
        const expected = id !== target;
        if (state.redis !== expected || state.memory !== expected) {
          throw new Error(
            `${path} of ${label(target)} left ${label(id)} ${JSON.stringify(state)} (expected live: ${expected})`,
          );
        }
        checked++;
      }
      // Only the target reloads.
      const loads = items.loads;
      for (const id of IDS) await items.get(id);
      expect(items.loads).toBe(loads + 1);
    }
    figures[path] = { targets: IDS.length, entriesChecked: checked, collateral: 0 };
  });

  it('invalidatePrefix: a hostile first part removes only the keys composed under it; every SCAN pattern is escaped', async () => {
    const patterns: string[] = [];
    const monitor = await raw.duplicate().monitor();
    monitor.on('monitor', (_time: string, args: string[]) => {
      const at = args.findIndex((a) => a.toUpperCase() === 'MATCH');
      if (args[0]?.toUpperCase() === 'SCAN' && at >= 0) patterns.push(unrepr(args[at + 1] ?? ''));
    });
    for (const id of IDS)
      for (const leaf of ['l1', 'l2']) await cache.set('stats', composeKey(id, leaf), `${id.length}-${leaf}`);
    let checked = 0;
    for (const target of IDS) {
      const removed = await cache.invalidatePrefix('stats', [target]);
      expect(removed).toBe(2);
      for (const id of IDS) {
        for (const leaf of ['l1', 'l2']) {
          const state = await liveIn('stats', composeKey(id, leaf));
          if (state.redis !== (id !== target))
            throw new Error(`invalidatePrefix ${label(target)} left ${label(id)}/${leaf} ${JSON.stringify(state)}`);
          checked++;
        }
      }
      for (const leaf of ['l1', 'l2']) await cache.set('stats', composeKey(target, leaf), `${target.length}-${leaf}`);
    }
    await waitFor(() => patterns.length >= IDS.length, { timeoutMs: 2_000, message: 'MONITOR to report every SCAN' });
    monitor.disconnect();
    // Each pattern is the namespace prefix plus the escaped parts, with one unescaped glob: the trailing '*'.
    for (const pattern of patterns) {
      expect(pattern.startsWith('drill18:stats:')).toBe(true);
      const unescapedGlobs = [...pattern.replace(/\\[\s\S]/g, '')].filter((c) => '*?[]'.includes(c));
      expect(unescapedGlobs).toEqual(['*']);
      expect(pattern.endsWith('*')).toBe(true);
    }
    figures['invalidatePrefix'] = {
      targets: IDS.length,
      entriesChecked: checked,
      collateral: 0,
      scanPatternsChecked: patterns.length,
    };
  });

  it('KEYS, FLUSHDB and FLUSHALL were never sent (INFO commandstats)', async () => {
    const stats = String(await raw.call('INFO', 'commandstats'));
    expect(stats).not.toMatch(/cmdstat_keys:/);
    expect(stats).not.toMatch(/cmdstat_flushdb:|cmdstat_flushall:/);
    expect(stats).toMatch(/cmdstat_scan:/);
    const calls = (name: string): number => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    figures['commandstats'] = {
      keys: calls('keys'),
      scan: calls('scan'),
      flushdb: calls('flushdb'),
      flushall: calls('flushall'),
    };
  });
});
