/**
 * Redis Cluster (3 masters, no replicas) — basics and drill 11 (cluster-wide invalidation), plus a master SIGKILLed
 * during writes (drill 10 on Cluster: with no replica its slots are down, then the whole cluster fails).
 * Bar: namespace/tag invalidation removes the targets on every master, other namespaces survive, no CROSSSLOT
 * errors (stats errors stay 0), no command over 10 ms in SLOWLOG; no error reaches a caller while a master is dead.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { Cluster } from 'ioredis';
import { Cached, CacheInvalidate, CachePut } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { decodeEntry, tombstoneId } from '../../libs/cache/src/codec/entry.codec.js';
import { waitFor } from '../harness/wait-for.js';
import { boot, cacheErrors, percentile, watchEscapes } from './support/app.js';
import type { Instance } from './support/app.js';
import { LocalCluster, scanNode } from './support/cluster.js';

const PREFIX = 'topo';
type Product = { id: number; name: string; rev: number };

/** The source both instances read. */
const products = new Map<number, Product>();
const prices = new Map<number, number>();

const group = (id: number): string => `group:${id % 4}`;

@Injectable()
class Catalog {
  loads = 0;

  @Cached({ namespace: 'product', key: (id: number) => id, tags: (id: number) => [group(id)] })
  async product(id: number): Promise<Product | null> {
    this.loads++;
    const row = products.get(id);
    return row ? { ...row } : null;
  }

  @Cached({ namespace: 'price', key: (id: number) => id })
  async price(id: number): Promise<number | null> {
    this.loads++;
    return prices.get(id) ?? null;
  }

  @CacheInvalidate({ namespace: 'product', key: (id: number) => id })
  async rename(id: number, name: string): Promise<void> {
    bump(id, name);
  }

  @CachePut({ namespace: 'product', key: (id: number) => id, tags: (id: number) => [group(id)] })
  async save(id: number, name: string): Promise<Product> {
    return bump(id, name);
  }
}

function bump(id: number, name: string): Product {
  const row = { id, name, rev: (products.get(id)?.rev ?? 0) + 1 };
  products.set(id, row);
  return { ...row };
}

function seed(ids: number): void {
  products.clear();
  prices.clear();
  for (let id = 1; id <= ids; id++) {
    products.set(id, { id, name: `p${id}`, rev: 0 });
    prices.set(id, id * 10);
  }
}

let cluster: LocalCluster;
let raw: Cluster;
let a: Instance<Catalog>;
let b: Instance<Catalog>;
const escapes = watchEscapes();
const figures: Record<string, unknown> = {};

const options = (): CacheModuleOptions => ({
  prefix: PREFIX,
  redis: { cluster: { nodes: cluster.seeds } },
  memory: { maxEntries: 20_000 },
});

/** Runs `fn` over `items` with at most `n` in flight. */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** What Redis holds for a key: 'absent', 'tombstone', or the decoded value. */
async function stored(key: string): Promise<'absent' | 'tombstone' | { value: unknown }> {
  const bytes = await raw.getBuffer(key);
  if (bytes === null) return 'absent';
  if (tombstoneId(bytes) !== null) return 'tombstone';
  return { value: decodeEntry(bytes).value };
}

/** Per node: how many keys match. */
async function perNode(match: string): Promise<number[]> {
  return Promise.all(cluster.nodes.map(async (n) => (await scanNode(n, match)).length));
}

/** SLOWLOG entries (> 10 ms, the threshold set in beforeAll) of every node, as readable lines. */
async function slowlog(): Promise<string[]> {
  const out: string[] = [];
  for (const node of cluster.nodes) {
    const entries = (await node.command('SLOWLOG', 'GET', 128)) as [number, number, number, string[]][];
    for (const [, , micros, args] of entries) out.push(`${node.port}: ${micros} µs ${args.slice(0, 4).join(' ')}`);
  }
  return out;
}

beforeAll(async () => {
  const started = performance.now();
  cluster = await LocalCluster.start();
  figures.clusterStartMs = Math.round(performance.now() - started);
  for (const node of cluster.nodes) {
    await node.command('CONFIG', 'SET', 'slowlog-log-slower-than', 10_000);
    await node.command('SLOWLOG', 'RESET');
  }
  raw = new Cluster(cluster.seeds, { lazyConnect: true });
  raw.on('error', () => undefined);
  await raw.connect();
  seed(4_000);
  a = await boot(options(), Catalog);
  b = await boot(options(), Catalog);
  // The bus gates the memory tier: wait for both subscriptions.
  await waitFor(() => a.engine.store.redisConnected && b.engine.store.redisConnected, {
    timeoutMs: 5_000,
    message: 'both instances connected',
  });
}, 90_000);

afterAll(async () => {
  escapes.stop();
  await Promise.all([a, b].map((i) => i?.app.close()));
  raw?.disconnect();
  await cluster?.stop();
  process.stdout.write(`cluster figures: ${JSON.stringify(figures)}\n`);
});

describe('Redis Cluster (3 masters): basics', () => {
  it('@Cached reads and @CachePut / @CacheInvalidate writes go through the master that owns the slot', async () => {
    const id = 1;
    const key = a.engine.space.entry('product', id);
    const loads = a.service.loads;
    expect(await a.service.product(id)).toEqual(products.get(id));
    expect(a.service.loads).toBe(loads + 1);
    expect(await a.service.product(id)).toEqual(products.get(id));
    expect(a.service.loads).toBe(loads + 1);
    // B has never seen it: a Redis hit.
    const bLoads = b.service.loads;
    expect(await b.service.product(id)).toEqual(products.get(id));
    expect(b.service.loads).toBe(bLoads);

    const owner = await cluster.nodeOf(key);
    const slot = await cluster.slotOf(key);
    for (const node of cluster.nodes)
      expect(await node.command('CLUSTER', 'COUNTKEYSINSLOT', slot)).toBe(node === owner ? 1 : 0);
    expect(await stored(key)).toEqual({ value: products.get(id) });

    const saved = await b.service.save(id, 'renamed-by-put');
    expect(await stored(key)).toEqual({ value: saved });
    await b.service.rename(id, 'renamed-by-invalidate');
    expect(await stored(key)).toBe('tombstone');
    await waitFor(async () => (await a.service.product(id))?.name === 'renamed-by-invalidate', {
      timeoutMs: 1_000,
      message: 'A to see the rename',
    });
    expect(await b.service.product(id)).toEqual(products.get(id));
    expect(cacheErrors(a.cache) + cacheErrors(b.cache)).toBe(0);
  });

  it('keys spread over all 3 masters (CLUSTER KEYSLOT / per-node DBSIZE)', async () => {
    await pool(range(1, 3_000), 64, async (id) => {
      await a.service.product(id);
      await a.service.price(id);
    });
    const productKeys = await perNode(`${PREFIX}:product:*`);
    const priceKeys = await perNode(`${PREFIX}:price:*`);
    figures.productKeysPerNode = productKeys;
    for (const n of productKeys) expect(n).toBeGreaterThan(700);
    for (const n of priceKeys) expect(n).toBeGreaterThan(700);
    expect(productKeys.reduce((x, y) => x + y, 0)).toBe(3_000);
    const slots = await cluster.slots();
    for (const node of cluster.nodes) {
      expect(Number(await node.command('DBSIZE'))).toBeGreaterThan(1_400);
      // Every key a node holds hashes to one of its own slots.
      for (const key of (await scanNode(node, `${PREFIX}:product:*`)).slice(0, 20)) {
        const slot = Number(await node.command('CLUSTER', 'KEYSLOT', key));
        expect(slots.find((r) => slot >= r.from && slot <= r.to)?.port).toBe(node.port);
      }
    }
    expect(cacheErrors(a.cache)).toBe(0);
  });

  it('lists (getOrSetList / append / setList) and update work on keys of every master', async () => {
    const keys = range(1, 30).map((n) => `feed-${n}`);
    const owners = new Set(
      await Promise.all(keys.map(async (k) => (await cluster.nodeOf(a.engine.space.entry('feed', k))).port)),
    );
    expect(owners.size).toBe(3);
    for (const k of keys) {
      expect(await a.cache.getOrSetList('feed', k, () => [1, 2, 3], { maxLength: 4 })).toEqual([1, 2, 3]);
      expect(await a.cache.append('feed', k, [4, 5], { maxLength: 4 })).toBe(true);
      expect(await b.cache.getList('feed', k)).toEqual([2, 3, 4, 5]);
      expect(await b.cache.setList('feed', k, ['x'], { maxLength: 4 })).toBe(true);
      expect(await a.cache.getList('feed', k)).toEqual(['x']);

      expect(await a.cache.set('counter', k, 1)).toBe(true);
      expect(await b.cache.update<number>('counter', k, (n) => n + 41)).toBe(42);
      expect(await b.cache.get('counter', k)).toBe(42);
      // A's memory tier drops its copy when B's bus message arrives.
      await waitFor(async () => (await a.cache.get('counter', k)) === 42, {
        timeoutMs: 1_000,
        message: `A to see the update of ${k}`,
      });
    }
    expect(cacheErrors(a.cache) + cacheErrors(b.cache)).toBe(0);
  });

  it('the invalidation bus works across two instances on the cluster (delete, put, tags, clear)', async () => {
    const subscribers = await Promise.all(
      cluster.nodes.map(async (n) =>
        Number(((await n.command('PUBSUB', 'NUMSUB', `${PREFIX}:__bus`)) as [string, number])[1]),
      ),
    );
    expect(subscribers.reduce((x, y) => x + y, 0)).toBe(2);
    const steps: [string, (id: number) => Promise<unknown>][] = [
      ['@CacheInvalidate', (id) => b.service.rename(id, 'bus-1')],
      ['@CachePut', (id) => b.service.save(id, 'bus-2')],
      ['invalidateTags', async (id) => (bump(id, 'bus-3'), b.cache.invalidateTags([group(id)]))],
      ['clearNamespace', async (id) => (bump(id, 'bus-4'), b.cache.clearNamespace('product'))],
    ];
    const propagation: number[] = [];
    for (const [name, change] of steps) {
      const id = 3_500 + propagation.length;
      await a.service.product(id);
      await b.service.product(id);
      // A serves it from memory now.
      const loads = a.service.loads;
      await a.service.product(id);
      expect(a.service.loads).toBe(loads);
      await change(id);
      const started = performance.now();
      await waitFor(async () => JSON.stringify(await a.service.product(id)) === JSON.stringify(products.get(id)), {
        timeoutMs: 1_000,
        message: `A to see ${name} of product ${id}`,
      });
      propagation.push(Math.round(performance.now() - started));
    }
    figures.busPropagationMs = propagation;
    expect(cacheErrors(a.cache) + cacheErrors(b.cache)).toBe(0);
  });
});

describe('drill 11: cluster-wide invalidation', () => {
  it('invalidateTags removes the tagged entries on every master; untagged-by-it entries stay', async () => {
    const ids = range(1, 400);
    await pool(ids, 32, (id) => b.service.product(id));
    await pool(ids, 32, (id) => a.service.product(id));
    const tagged = ids.filter((id) => group(id) === 'group:1');
    const owners = new Set(
      await Promise.all(tagged.map(async (id) => (await cluster.nodeOf(a.engine.space.entry('product', id))).port)),
    );
    expect(owners.size).toBe(3);
    for (const id of tagged) bump(id, `tagged-${id}`);
    for (const node of cluster.nodes) await node.command('SLOWLOG', 'RESET');

    const removed = await b.cache.invalidateTags(['group:1']);
    expect(removed).toBeGreaterThanOrEqual(tagged.length);

    for (const id of ids) {
      const state = await stored(a.engine.space.entry('product', id));
      if (group(id) === 'group:1') expect(state === 'tombstone' || state === 'absent').toBe(true);
      else expect(state).toEqual({ value: products.get(id) });
    }
    const loads = a.service.loads;
    await waitFor(async () => (await a.service.product(tagged[0]!))?.name === `tagged-${tagged[0]}`, {
      timeoutMs: 1_000,
      message: 'the tag message on A',
    });
    for (const id of ids) expect(await a.service.product(id)).toEqual(products.get(id));
    // Only the tagged entries were reloaded.
    expect(a.service.loads - loads).toBe(tagged.length);
    expect(cacheErrors(a.cache) + cacheErrors(b.cache)).toBe(0);
    expect(await slowlog()).toEqual([]);
  });

  it('clearNamespace removes every key of the namespace on every master; other namespaces survive', async () => {
    await pool(range(1, 4_000), 64, async (id) => {
      await a.service.product(id);
      await a.service.price(id);
    });
    const before = { product: await perNode(`${PREFIX}:product:*`), price: await perNode(`${PREFIX}:price:*`) };
    for (const n of before.product) expect(n).toBeGreaterThan(1_000);
    for (const node of cluster.nodes) await node.command('SLOWLOG', 'RESET');
    for (const id of range(1, 4_000)) bump(id, `cleared-${id}`);

    const started = performance.now();
    const removed = await b.cache.clearNamespace('product');
    figures.clearNamespaceMs = Math.round(performance.now() - started);
    figures.clearNamespaceRemoved = removed;

    expect(removed).toBe(before.product.reduce((x, y) => x + y, 0));
    expect(await perNode(`${PREFIX}:product:*`)).toEqual([0, 0, 0]);
    expect(await perNode(`${PREFIX}:price:*`)).toEqual(before.price);
    expect(await slowlog()).toEqual([]);

    const loads = a.service.loads;
    for (const id of [1, 999, 2_000, 3_999]) {
      await waitFor(async () => (await a.service.product(id))?.name === `cleared-${id}`, {
        timeoutMs: 1_000,
        message: `A to reload product ${id}`,
      });
      expect(await a.service.price(id)).toBe(prices.get(id));
    }
    expect(a.service.loads - loads).toBe(4);
    expect(cacheErrors(a.cache) + cacheErrors(b.cache)).toBe(0);
    expect(a.logger.grep(/CROSSSLOT/)).toEqual([]);
    expect(b.logger.grep(/CROSSSLOT/)).toEqual([]);
  });
});

describe('a master SIGKILLed during writes (no replicas: its slots go down, then the cluster)', () => {
  /** The connections of the bus subscribers, per node (a victim without one keeps both memory tiers trusted). */
  async function subscriberNodes(): Promise<Set<number>> {
    const ports = new Set<number>();
    for (const node of cluster.nodes) {
      const list = String(await node.command('CLIENT', 'LIST'));
      if (/ sub=[1-9]/.test(list)) ports.add(node.port);
    }
    return ports;
  }

  async function idsOn(node: { port: number }, ids: number[]): Promise<number[]> {
    const owners = await Promise.all(
      ids.map(async (id) => (await cluster.nodeOf(a.engine.space.entry('product', id))).port),
    );
    return ids.filter((_, i) => owners[i] === node.port);
  }

  async function restartAndAwaitOk(victim: (typeof cluster.nodes)[number]): Promise<number> {
    const restartedAt = performance.now();
    if (!victim.isRunning) await victim.restart();
    await cluster.waitForState('ok', 15_000);
    return performance.now() - restartedAt;
  }

  it('an invalidation made while the breaker is open (one master dead) is seen by the next read, on this instance and another', async () => {
    seed(300);
    await a.cache.clearNamespace('product');
    const subs = await subscriberNodes();
    const victim = cluster.nodes.find((n) => !subs.has(n.port))!;
    const healthy = cluster.nodes.find((n) => n !== victim)!;
    const ids = range(1, 300);
    const [id] = await idsOn(healthy, ids);
    const victimIds = await idsOn(victim, ids);
    try {
      await a.service.product(id!);
      await b.service.product(id!);
      await victim.kill();
      for (let i = 0; a.cache.stats().breaker !== 'open' && i < 50; i++)
        await a.service.product(victimIds[i % victimIds.length]!);
      expect(a.cache.stats().breaker).toBe('open');
      expect(a.engine.store.peek(a.engine.space.entry('product', id))).toBeDefined();

      await a.service.rename(id!, 'renamed-while-open');
      // This instance: at once. Another instance: as soon as the bus message lands (as in bus.spec.ts, ≤ 1 s).
      expect(await a.service.product(id!)).toEqual(products.get(id!));
      await waitFor(async () => JSON.stringify(await b.service.product(id!)) === JSON.stringify(products.get(id!)), {
        timeoutMs: 1_000,
        message: 'the other instance to see the invalidation',
      });
    } finally {
      figures.clusterOkAfterRestartMs = Math.round(await restartAndAwaitOk(victim));
    }
  }, 30_000);

  it('no call throws, each answers in < 1 s; the cache resumes after the master is back and agrees with the source', async () => {
    seed(300);
    await a.cache.clearNamespace('product');
    await waitFor(() => a.cache.stats().breaker === 'closed', { timeoutMs: 5_000, message: 'the breaker to close' });
    const ids = range(1, 300);
    await pool(ids, 32, (id) => a.service.product(id));
    const victim = cluster.nodes[2]!;
    const others = cluster.nodes.filter((n) => n !== victim);
    const victimIds = await idsOn(victim, ids);
    expect(victimIds.length).toBeGreaterThan(50);

    const surfaced: string[] = [];
    const stale: string[] = [];
    const latencies: number[] = [];
    let killedAt = Infinity;
    let calls = 0;
    let stop = false;
    // 8 workers, each owning its ids, so a read after its own write must return exactly the source's value.
    const workers = Array.from({ length: 8 }, async (_, w) => {
      const mine = ids.filter((id) => id % 8 === w);
      let i = 0;
      while (!stop) {
        const id = mine[i++ % mine.length]!;
        const op = i % 3;
        const started = performance.now();
        try {
          if (op === 0) await a.service.rename(id, `w${w}-${i}`);
          else if (op === 1) await a.service.save(id, `w${w}-${i}`);
          const got = await a.service.product(id);
          if (JSON.stringify(got) !== JSON.stringify(products.get(id))) {
            // Served from A's own memory tier = the invalidation/write-through did not reach it.
            const fromMemory =
              JSON.stringify(a.engine.store.memory?.peek(a.engine.space.entry('product', id))?.value) ===
              JSON.stringify(got);
            stale.push(`${id}@${Math.round(performance.now() - killedAt)}ms ${fromMemory ? 'memory' : 'redis'}`);
          }
        } catch (err) {
          surfaced.push(`${id}: ${(err as Error).message}`);
        }
        latencies.push(performance.now() - started);
        calls++;
        await new Promise((r) => setTimeout(r, 2));
      }
    });

    await waitFor(() => calls >= 100, { timeoutMs: 5_000, message: 'the workload to run before the kill' });
    await victim.kill();
    killedAt = performance.now();
    figures.clusterFailAfterKillMs = Math.round(await cluster.waitForState('fail', 10_000, others));
    // The workload meets the failed cluster before the master comes back.
    const callsAtFail = calls;
    await waitFor(() => calls >= callsAtFail + 100, {
      timeoutMs: 10_000,
      message: 'the workload to run against the failed cluster',
    });
    const restartedAt = performance.now();
    await victim.restart();
    figures.clusterOkAfterRestartMs = Math.round(await cluster.waitForState('ok', 15_000));
    // Resumed: a write-through to a key of the restarted master lands in Redis.
    const probe = victimIds[0]!;
    await waitFor(
      async () => {
        await a.service.save(probe, `probe-${Math.round(performance.now())}`);
        const state = await stored(a.engine.space.entry('product', probe)).catch(() => 'absent' as const);
        return typeof state === 'object' && JSON.stringify(state.value) === JSON.stringify(products.get(probe));
      },
      { timeoutMs: 10_000, intervalMs: 50, message: 'writes to land on the restarted master' },
    );
    figures.cacheResumedAfterRestartMs = Math.round(performance.now() - restartedAt);
    stop = true;
    await Promise.all(workers);
    const maxMs = Math.max(...latencies);
    figures.masterKill = {
      calls,
      outageMs: Math.round(performance.now() - killedAt),
      p50Ms: Math.round(percentile(latencies, 50)),
      p99Ms: Math.round(percentile(latencies, 99)),
      maxMs: Math.round(maxMs),
      cacheErrorsCounted: cacheErrors(a.cache),
      // Reads that returned the value the same worker had just replaced, from A's memory tier or from Redis (an
      // invalidation skipped while the breaker was open, read after a probe closed it, before the replay ran).
      staleReadsFromOwnMemoryTier: stale.filter((s) => s.endsWith('memory')).length,
      staleReadsFromRedis: stale.filter((s) => s.endsWith('redis')),
    };

    expect(surfaced).toEqual([]);
    expect(escapes.escaped).toEqual([]);
    // A call makes at most 2 budgeted cache round trips (invalidate or write, then read+write-back): ≤ 2 × 250 ms + slack.
    expect(maxMs).toBeLessThan(1_000);

    // After recovery (replay queue drained): Redis, A and B agree with the source for every key.
    await waitFor(() => a.cache.stats().pendingInvalidations === 0, {
      timeoutMs: 5_000,
      message: 'the replay queue to drain',
    });
    const disagree: string[] = [];
    for (const id of ids) {
      const state = await stored(a.engine.space.entry('product', id));
      if (typeof state === 'object' && JSON.stringify(state.value) !== JSON.stringify(products.get(id)))
        disagree.push(`redis ${id}`);
      for (const [name, i] of [
        ['A', a],
        ['B', b],
      ] as const) {
        if (JSON.stringify(await i.service.product(id)) !== JSON.stringify(products.get(id)))
          disagree.push(`${name} ${id}`);
      }
    }
    expect(disagree).toEqual([]);
  }, 45_000);
});
