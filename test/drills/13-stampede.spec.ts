// Drill 13 — stampede: thousands of concurrent calls for one cold key over several processes (3 child Node
// processes, each its own Nest application context, one Redis): ≤ 1 loader call per process without the lease,
// exactly 1 in total with it; every caller gets the same value; the in-flight map empties. And when the lease
// holder dies mid-load (SIGKILL), the waiters take over once the lease expires and one of them loads.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { RedisServer } from '../harness/redis-server.js';
import type { BurstResult } from './support/cache-worker.js';
import { killChildren, reportDrill, spawnTsChild } from './support/processes.js';
import type { ChildNode } from './support/processes.js';

// Real servers, processes and fault injection: slower than a unit test, especially on a loaded machine.
jest.setTimeout(60_000);

const PREFIX = 'drill13';
const PROCESSES = 3;
const CALLS_PER_PROCESS = 1500;
const LOAD_MS = 300;
/** The worker's lease: { ttl: '1s', wait: '8s' }. */
const LEASE_TTL_MS = 1_000;

let redis: RedisServer;
let workers: ChildNode[] = [];
let burstIds = 0;
const figures: Record<string, unknown> = {};

async function burst(
  targets: ChildNode[],
  method: 'plain' | 'lease',
  key: string,
  timeoutMs = 15_000,
): Promise<BurstResult[]> {
  const id = ++burstIds;
  for (const w of targets) w.send({ cmd: 'burst', id, method, key, calls: CALLS_PER_PROCESS, loadMs: LOAD_MS });
  return Promise.all(targets.map((w) => w.next<BurstResult & { [k: string]: unknown }>('burst', timeoutMs)));
}

function summarize(results: BurstResult[]): {
  loaderCalls: number[];
  tokens: Set<string>;
  callers: number;
  errors: string[];
  inFlightAfter: number[];
  maxMs: number;
} {
  const tokens = new Set<string>();
  let callers = 0;
  for (const r of results) {
    for (const [token, n] of Object.entries(r.tokens)) {
      tokens.add(token);
      callers += n;
    }
  }
  return {
    loaderCalls: results.map((r) => r.loaderCalls),
    tokens,
    callers,
    errors: results.flatMap((r) => r.errors),
    inFlightAfter: results.map((r) => r.inFlightAfter),
    maxMs: Math.max(...results.map((r) => r.ms)),
  };
}

beforeAll(async () => {
  redis = await RedisServer.start();
  workers = Array.from({ length: PROCESSES }, (_, i) =>
    spawnTsChild(`worker-${i + 1}`, 'test/drills/support/cache-worker.ts', [redis.url, PREFIX]),
  );
  await Promise.all(workers.map((w) => w.next('ready', 30_000)));
}, 40_000);

afterAll(async () => {
  await killChildren();
  await redis?.stop();
  reportDrill('13', figures, `stampede: ${JSON.stringify(figures)}`);
});

describe(`drill 13: stampede over ${PROCESSES} processes × ${CALLS_PER_PROCESS} concurrent calls`, () => {
  it('without the lease: ≤ 1 loader call per process, one value per process, in-flight map empty', async () => {
    const results = await burst(workers, 'plain', 'cold-plain');
    const s = summarize(results);
    expect(s.errors).toEqual([]);
    for (const r of results) expect(Object.keys(r.tokens)).toHaveLength(1);
    expect(s.callers).toBe(PROCESSES * CALLS_PER_PROCESS);
    for (const calls of s.loaderCalls) expect(calls).toBeLessThanOrEqual(1);
    // Every caller of one process got its process's value; at most one value per process overall.
    expect(s.tokens.size).toBeLessThanOrEqual(PROCESSES);
    expect(s.tokens.size).toBe(s.loaderCalls.reduce((a, b) => a + b, 0));
    expect(s.inFlightAfter).toEqual(workers.map(() => 0));
    figures['withoutLease'] = {
      callers: s.callers,
      loaderCallsPerProcess: s.loaderCalls,
      distinctValues: s.tokens.size,
      maxBurstMs: s.maxMs,
    };
  });

  it('with lease: true — exactly 1 loader call in total, every caller gets the same value', async () => {
    const results = await burst(workers, 'lease', 'cold-lease');
    const s = summarize(results);
    expect(s.errors).toEqual([]);
    expect(s.callers).toBe(PROCESSES * CALLS_PER_PROCESS);
    expect(s.loaderCalls.reduce((a, b) => a + b, 0)).toBe(1);
    expect(s.tokens.size).toBe(1);
    expect(s.inFlightAfter).toEqual(workers.map(() => 0));
    figures['withLease'] = {
      callers: s.callers,
      loaderCallsTotal: 1,
      distinctValues: s.tokens.size,
      maxBurstMs: s.maxMs,
    };
  });

  it('lease exactly once per key per expiry: 40 keys × 4 callers on every process, 10 cold starts', async () => {
    const rounds: number[] = [];
    for (let round = 0; round < 10; round++) {
      const keys = Array.from({ length: 40 }, (_, i) => `cold-${round}-${i}`);
      const id = ++burstIds;
      for (const w of workers) w.send({ cmd: 'keys', id, keys, callsPerKey: 4, loadMs: 50 });
      const answers = await Promise.all(
        workers.map((w) => w.next<{ type: 'keys'; loads: Record<string, number>; errors: string[] }>('keys', 20_000)),
      );
      for (const a of answers) expect(a.errors).toEqual([]);
      const perKey = keys.map((k) => answers.reduce((n, a) => n + (a.loads[k] ?? 0), 0));
      // Exactly one load of each key across all processes (a waiter that finds the lease free re-reads first).
      expect(perKey).toEqual(keys.map(() => 1));
      rounds.push(perKey.reduce((a, b) => a + b, 0));
    }
    figures['leaseManyKeys'] = { rounds: rounds.length, keys: 40, processes: PROCESSES, loadsPerRound: rounds };
  });

  it('the lease holder is SIGKILLed mid-load: the waiters take over after the lease ttl, one of them loads', async () => {
    const [holder, ...waiters] = workers as [ChildNode, ...ChildNode[]];
    holder.send({ cmd: 'hang', id: 0, key: 'orphaned' });
    const loading = await holder.next<{ type: 'loading'; at: number }>('loading', 5_000);
    const id = ++burstIds;
    for (const w of waiters)
      w.send({ cmd: 'burst', id, method: 'lease', key: 'orphaned', calls: CALLS_PER_PROCESS, loadMs: LOAD_MS });
    await holder.kill('SIGKILL');
    const results = await Promise.all(
      waiters.map((w) => w.next<BurstResult & { [k: string]: unknown }>('burst', 15_000)),
    );
    const s = summarize(results);
    expect(s.errors).toEqual([]);
    expect(s.callers).toBe(waiters.length * CALLS_PER_PROCESS);
    expect(s.loaderCalls.reduce((a, b) => a + b, 0)).toBe(1);
    expect(s.tokens.size).toBe(1);
    expect(s.inFlightAfter).toEqual(waiters.map(() => 0));
    const takeoverAt = Math.min(...results.flatMap((r) => r.loaderStartedAt));
    // The dead holder's lease ran from (just before) its load started; a waiter loads within ~ the lease ttl of it.
    const takeoverAfterMs = takeoverAt - loading.at;
    expect(takeoverAfterMs).toBeGreaterThanOrEqual(LEASE_TTL_MS - 50);
    expect(takeoverAfterMs).toBeLessThanOrEqual(LEASE_TTL_MS + 300);
    const answeredAfterMs = Math.max(...results.map((r) => r.startedAt + r.ms)) - loading.at;
    expect(answeredAfterMs).toBeLessThanOrEqual(LEASE_TTL_MS + LOAD_MS + 500);
    figures['holderKilled'] = {
      takeoverAfterMs,
      answeredAfterMs,
      loaderCallsTotal: 1,
      distinctValues: s.tokens.size,
      leaseTtlMs: LEASE_TTL_MS,
      loadMs: LOAD_MS,
    };
  });
});
