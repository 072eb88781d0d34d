/**
 * Drill 21 — Tags at any size (issue 15): invalidating a tag of 100,000 entries (1,000,000 under `npm run test:long`,
 * FC_LONG=1), clearing a composed-key prefix and a namespace of as many, on a real redis-server, while another
 * process PINGs it every millisecond. A tag is a generation, not a member set: its invalidation removes one small
 * key, and its index stays that one key however long a tag is written.
 * Asserted (what must hold on any machine): no error, the tag's entries are misses, other namespaces and tags
 * intact, the tag index one key of bounded size that expires with its last entry; a second instance (bus) stops
 * serving invalidated entries. Reported (`.tmp/drills/21.json`): wall times and the prober's worst PING (bar ≤ 5 ms).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import { Redis } from 'ioredis';
import { CacheService, composeKey } from 'nestjs-tiercache';
import { RedisBackend } from '../../libs/cache/src/backends/redis/redis.backend.js';
import type { RedisClient } from '../../libs/cache/src/backends/redis/redis-client.factory.js';
import { encodeEntry } from '../../libs/cache/src/codec/entry.codec.js';
import { KeySpace } from '../../libs/cache/src/keys/key-space.js';
import { bootCache } from '../cache/fixtures.js';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { killChildren, reportDrill, spawnTsChild, type ChildNode } from './support/processes.js';
import type { PingWindow } from './support/ping-probe.js';
import { hostReclaim } from './support/host-reclaim.js';

const LONG = process.env['FC_LONG'] === '1';
const SIZE = LONG ? 1_000_000 : 100_000;
/** Writes in flight while filling. */
const FILL_CONCURRENCY = 250;
const COPY_BATCH = 10_000;
/** The Redis backend's default `tagIndexCap`: the entries an invalidation tombstones. */
const TAG_INDEX_CAP = 10_000;
const PREFIX = 'd21';

const figures: Record<string, unknown> = { entries: SIZE };

/**
 * Stores `count` entries under string keys (stored verbatim): the first `viaApi` through the public API,
 * `FILL_CONCURRENCY` at a time (stamped and indexed like any write), the others as copies of the first one's bytes
 * (same tags, same generation stamps), pipelined — a million writes through the API would take minutes.
 */
async function fill(
  cache: CacheService,
  admin: Redis,
  namespace: string,
  count: number,
  key: (i: number) => string,
  tags: readonly string[] | undefined,
  viaApi = Math.min(count, 10_000),
): Promise<void> {
  for (let from = 0; from < viaApi; from += FILL_CONCURRENCY) {
    const batch: Promise<boolean>[] = [];
    for (let i = from; i < Math.min(viaApi, from + FILL_CONCURRENCY); i++)
      batch.push(cache.set(namespace, key(i), { i }, tags ? { tags } : undefined));
    const written = await Promise.all(batch);
    // A write past its deadline on a loaded machine is not cached (by design): write those again, a few times.
    for (let attempt = 0; attempt < 5; attempt++) {
      const missed = written.flatMap((ok, j) => (ok ? [] : [from + j]));
      if (missed.length === 0) break;
      const again = await Promise.all(
        missed.map((i) => cache.set(namespace, key(i), { i }, tags ? { tags } : undefined)),
      );
      again.forEach((ok, j) => (written[(missed[j] ?? from) - from] = ok));
    }
    if (written.some((ok) => !ok)) throw new Error(`fill ${namespace}: a write was not cached after 5 retries`);
  }
  const bytes = await admin.getBuffer(`${PREFIX}:${namespace}:${key(0)}`);
  if (bytes === null) throw new Error(`fill ${namespace}: the first entry is not stored`);
  for (let from = viaApi; from < count; from += COPY_BATCH) {
    const pipeline = admin.pipeline();
    for (let i = from; i < Math.min(count, from + COPY_BATCH); i++)
      pipeline.set(`${PREFIX}:${namespace}:${key(i)}`, bytes, 'PX', 3_600_000);
    await pipeline.exec();
  }
}

/** Indexes spread over 0..count-1 (first, last and a stride between). */
function sample(count: number, n = 500): number[] {
  const step = Math.max(1, Math.floor(count / n));
  const out: number[] = [];
  for (let i = 0; i < count; i += step) out.push(i);
  out.push(count - 1);
  return out;
}

describe('drill 21: tags at any size', () => {
  let redis: RedisServer;
  let admin: Redis;
  let probe: ChildNode;
  let writer: INestApplicationContext;
  let cache: CacheService;

  /** The prober's worst PING since the previous call. */
  const window = async (): Promise<PingWindow> => {
    probe.send({ cmd: 'window' });
    return probe.next<PingWindow & { [field: string]: unknown }>('window');
  };

  /**
   * Runs `op`, returning its result, its wall time and what another process's PINGs saw meanwhile: the worst, the
   * 99.9th percentile and how many were over 5 ms (the host's own noise: the idle figures of the bench).
   */
  const measured = async <R>(
    op: () => Promise<R>,
  ): Promise<{ result: R; ms: number; pingMs: number; ping: Record<string, number> }> => {
    await window();
    const started = performance.now();
    const result = await op();
    const ms = Math.round(performance.now() - started);
    const { maxMs, p999Ms, over5, pings } = await window();
    const pingMs = Math.round(maxMs * 10) / 10;
    return { result, ms, pingMs, ping: { p999Ms: Math.round(p999Ms * 10) / 10, over5, pings } };
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
    admin = new Redis(redis.url, { lazyConnect: true });
    await admin.connect();
    probe = spawnTsChild('ping-probe', 'test/drills/support/ping-probe.ts', [redis.url]);
    await probe.next('ready');
    // Redis only (no memory tier, no bus): every read below is answered by Redis.
    writer = await bootCache({ prefix: PREFIX, redis: redis.url, memory: false, defaultTtl: '1h' }, []);
    cache = writer.get(CacheService);
  }, 60_000);

  afterAll(async () => {
    reportDrill(
      '21',
      figures,
      `tags at ${SIZE.toLocaleString('en')} entries: ${JSON.stringify(figures)} (bar: worst PING ≤ 5 ms; host reclaim: ${hostReclaim() ?? 'none seen'})`,
    );
    await writer?.close();
    admin?.disconnect();
    await killChildren();
    await redis?.stop();
  });

  it(
    `invalidating a tag of ${SIZE.toLocaleString('en')} entries, then clearing their prefix and a namespace of as many: no error, targets gone, the rest intact`,
    async () => {
      const started = performance.now();
      await fill(cache, admin, 'item', SIZE, (i) => composeKey('grp', i), ['big']);
      await fill(cache, admin, 'keep', 1_000, (i) => `k${i}`, ['small']);
      await fill(cache, admin, 'item', 1_000, (i) => composeKey('other', i), ['small']);
      figures['fillMs'] = Math.round(performance.now() - started);
      // Writes of the fill past their deadline on a loaded machine were retried above: count from here.
      const errorsBeforeInvalidation = cacheErrors(cache);

      const tag = await measured(() => cache.invalidateTags(['big']));
      figures['invalidateTag'] = { ms: tag.ms, worstPingMs: tag.pingMs, ...tag.ping };
      // Tombstoned through the index (bounded); the rest are misses by generation.
      expect(tag.result).toBe(Math.min(SIZE, TAG_INDEX_CAP));
      for (const i of sample(SIZE)) expect(await cache.get('item', composeKey('grp', i))).toBeUndefined();
      for (const i of sample(1_000, 100)) {
        expect(await cache.get('keep', `k${i}`)).toEqual({ i });
        expect(await cache.get('item', composeKey('other', i))).toEqual({ i });
      }
      // The generation and the index of the tag are gone.
      expect(await admin.exists(`${PREFIX}:__tag:big`, `${PREFIX}:__tagidx:big`)).toBe(0);

      // The invalidated entries are still stored (misses until they expire or reload): clear them by prefix.
      const prefix = await measured(() => cache.invalidatePrefix('item', ['grp']));
      figures['invalidatePrefix'] = { ms: prefix.ms, worstPingMs: prefix.pingMs, ...prefix.ping };
      expect(prefix.result).toBe(SIZE);
      for (const i of sample(1_000, 100)) expect(await cache.get('item', composeKey('other', i))).toEqual({ i });

      await fill(cache, admin, 'bulk', SIZE, (i) => `k${i}`, undefined);
      const clear = await measured(() => cache.clearNamespace('bulk'));
      figures['clearNamespace'] = { ms: clear.ms, worstPingMs: clear.pingMs, ...clear.ping };
      expect(clear.result).toBe(SIZE);
      for (const i of sample(SIZE, 100)) expect(await cache.get('bulk', `k${i}`)).toBeUndefined();
      for (const i of sample(1_000, 100)) expect(await cache.get('keep', `k${i}`)).toEqual({ i });
      expect(cacheErrors(cache) - errorsBeforeInvalidation).toBe(0);
    },
    LONG ? 900_000 : 120_000,
  );

  /**
   * At one instant: the index's size, the live entries (SCAN MATCH ARGV[1]), and the indexed entries whose deadline
   * fell between ARGV[2] (epoch ms: when the last batch of writes began) and now — live when that batch pruned.
   */
  const SNAPSHOT = `
local live, cursor = 0, '0'
repeat
  local r = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 1000)
  cursor = r[1]
  live = live + #r[2]
until cursor == '0'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return {redis.call('ZCARD', KEYS[1]), live, redis.call('ZCOUNT', KEYS[1], ARGV[2], now)}`;

  it('the index of a tag written steadily over many TTLs holds only live entries, and goes with its last one', async () => {
    const ttlMs = 200;
    const genKey = `${PREFIX}:__tag:org:1`;
    const indexKey = `${PREFIX}:__tagidx:org:1`;
    let next = 0;
    let worstRatio = 0;
    let maxIndex = 0;
    let minLive = Infinity;
    const countLive = async (): Promise<number> => {
      let cursor = '0';
      let live = 0;
      do {
        const [c, keys] = await admin.scan(cursor, 'MATCH', `${PREFIX}:org:*`, 'COUNT', 1_000);
        cursor = c;
        live += keys.length;
      } while (cursor !== '0');
      return live;
    };
    // 15 TTLs of back-to-back writes, 10 new entries of the tag at a time; sampled after the first 3 TTLs.
    const started = performance.now();
    let round = 0;
    while (performance.now() - started < 15 * ttlMs) {
      const batchStart = Date.now();
      await Promise.all(
        Array.from({ length: 10 }, () => cache.set('org', next++, { n: next }, { ttl: ttlMs, tags: ['org:1'] })),
      );
      if (++round % 5 === 0 && performance.now() - started > 3 * ttlMs) {
        // One snapshot (a script: Redis's clock stands still while it runs), so a loaded machine pausing between the
        // two counts cannot let entries expire in between.
        const [index, live, expiredSinceBatch] = (await admin.eval(
          SNAPSHOT,
          1,
          indexKey,
          `${PREFIX}:org:*`,
          batchStart,
        )) as [number, number, number];
        // Against the entries live when the batch began to prune: a pause of this machine between the batch and the
        // snapshot lets more entries expire meanwhile, which no write has had the chance to prune.
        worstRatio = Math.max(worstRatio, index / Math.max(1, live + expiredSinceBatch));
        maxIndex = Math.max(maxIndex, index);
        minLive = Math.min(minLive, live);
      }
    }
    figures['steadyTag'] = {
      written: next,
      ttlMs,
      maxIndex,
      minLive,
      worstIndexToLive: Math.round(worstRatio * 100) / 100,
    };
    expect(minLive).toBeGreaterThan(0);
    // Counted after a batch of writes (entries that expired during it may still be listed): ≤ 1.5× the live ones.
    expect(worstRatio).toBeLessThanOrEqual(1.5);
    expect(maxIndex).toBeLessThan(next / 3);
    // Their life covers the last entry's, plus a margin (1 s): then the generation and the index go.
    await waitFor(async () => (await admin.exists(genKey, indexKey)) === 0, {
      timeoutMs: 5_000,
      message: 'the tag keys to expire',
    });
    expect(await countLive()).toBe(0);
  });

  it('beyond the index cap an invalidated tag still covers every entry (generation), and a reload replaces them', async () => {
    const client = new Redis(redis.url, { lazyConnect: true });
    await client.connect();
    const space = new KeySpace('d21cap');
    const backend = new RedisBackend(client as unknown as RedisClient, space, {
      tagIndexCap: 5,
      maxReadBytes: 1 << 20,
    });
    try {
      const keys = Array.from({ length: 20 }, (_, i) => space.entry('cap', i));
      const now = Date.now();
      const bytes = (value: unknown): Buffer => encodeEntry({ value, createdAt: now, expiresAt: now + 60_000 });
      for (const [i, k] of keys.entries()) await backend.write(k, bytes(i), 60_000, { tags: ['cap'] });
      expect(await admin.zcard(space.tagIndex('cap'))).toBe(5);

      // Generations remembered (as while the bus is subscribed): a hit on an indexed entry sends one command, no
      // generation GET; the 15 entries the full index could not list are stamped unindexed, and each of their hits
      // asks Redis for the generation (no invalidation will tombstone them, so a remembered one must not vouch).
      backend.generations.trust(true);
      await backend.read(keys[0]!);
      const gets = async (): Promise<number> =>
        Number(/cmdstat_get:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0);
      const before = await gets();
      for (const k of keys.slice(0, 5)) expect(await backend.read(k)).toMatchObject({ hit: true, tags: ['cap'] });
      expect(await gets()).toBe(before);
      for (const k of keys.slice(5)) expect(await backend.read(k)).toMatchObject({ hit: true, tags: ['cap'] });
      expect(await gets()).toBe(before + 15);

      expect(await backend.invalidateTags(['cap'])).toBe(5);
      expect(await admin.exists(space.tag('cap'), space.tagIndex('cap'))).toBe(0);
      const reads = await Promise.all(keys.map((k) => backend.read(k)));
      expect(reads.every((r) => !r.hit)).toBe(true);
      const live = reads.filter((r) => !r.hit && r.token?.startsWith('live:'));
      expect(live).toHaveLength(15);
      // The reload's guarded write, with the token of the invalidated entry, replaces exactly it.
      const k = keys[reads.findIndex((r) => !r.hit && r.token?.startsWith('live:'))]!;
      const token = (await backend.read(k)) as { token: string };
      expect(await backend.write(k, bytes('reloaded'), 60_000, { tags: ['cap'], ifToken: token.token })).toBe(true);
      expect(await backend.read(k)).toMatchObject({ hit: true, entry: { value: 'reloaded' } });
    } finally {
      client.disconnect();
    }
  });

  it('a second instance stops serving entries of an invalidated tag (bus), then serves the rewritten ones', async () => {
    const options = { prefix: PREFIX, redis: redis.url, memory: { maxEntries: 1_000 }, defaultTtl: '1h' } as const;
    const [a, b] = await Promise.all([
      bootCache({ ...options, namespaces: { direct: { memory: false } } }, []),
      bootCache({ ...options, namespaces: { direct: { memory: false } } }, []),
    ]);
    try {
      const ca = a.get(CacheService);
      const cb = b.get(CacheService);
      for (const ns of ['mem', 'direct']) for (let i = 0; i < 20; i++) await ca.set(ns, i, { i }, { tags: ['t:1'] });
      await ca.set('mem', 'untagged', 1);
      // B reads them (memory tier filled; generations remembered once its bus is subscribed).
      await waitFor(async () => (await cb.get('direct', 0)) !== undefined, { message: 'B to read' });
      for (const ns of ['mem', 'direct']) for (let i = 0; i < 20; i++) expect(await cb.get(ns, i)).toEqual({ i });
      expect(await cb.get('mem', 'untagged')).toBe(1);

      await ca.invalidateTags(['t:1']);
      await waitFor(async () => (await cb.get('mem', 0)) === undefined && (await cb.get('direct', 0)) === undefined, {
        message: 'B to drop the tag',
      });
      for (const ns of ['mem', 'direct']) for (let i = 0; i < 20; i++) expect(await cb.get(ns, i)).toBeUndefined();
      expect(await cb.get('mem', 'untagged')).toBe(1);

      // Written again under the tag's new generation: B serves them (its remembered generation was dropped).
      for (let i = 0; i < 20; i++) await ca.set('direct', i, { i, again: true }, { tags: ['t:1'] });
      for (let i = 0; i < 20; i++) expect(await cb.get('direct', i)).toEqual({ i, again: true });
      expect(cacheErrors(ca) + cacheErrors(cb)).toBe(0);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

/** Backend errors counted by a cache instance (every namespace). */
function cacheErrors(cache: CacheService): number {
  return Object.values(cache.stats().namespaces).reduce((n, ns) => n + (ns?.errors ?? 0), 0);
}
