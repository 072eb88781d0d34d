/**
 * The distributed load lease (`lease: true`) exactly once per key per cold start and per expiry, on standalone,
 * Sentinel and Cluster (issue #16; drill 13, test/drills/13-stampede.spec.ts, has the standalone stampede and the
 * dead holder): 3 child processes, each its own Nest application context, 40 keys × 4 concurrent leased callers per
 * process, 10 rounds of new keys, then 10 rounds of the same keys each after their TTL ran out. On Cluster the entry,
 * its lease key and the processes' connections spread over 3 masters. Bar: every key loaded exactly once per round
 * across all processes, every caller gets that one value, no error.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { BurstResult } from '../drills/support/cache-worker.js';
import { killChildren, reportDrill, spawnTsChild } from '../drills/support/processes.js';
import type { ChildNode } from '../drills/support/processes.js';
import { RedisServer } from '../harness/redis-server.js';
import { LocalCluster } from './support/cluster.js';
import { SentinelTopology } from './support/sentinel.js';

jest.setTimeout(120_000);

const PROCESSES = 3;
const ROUNDS = 10;
const KEYS = 40;
const CALLS_PER_KEY = 4;
/** The TTL of the worker's `leasedShort` entries (cache-worker.ts; not imported: importing it would run the worker). */
const SHORT_TTL_MS = 500;

const figures: Record<string, unknown> = {};
let sentinel: SentinelTopology | undefined;
let cluster: LocalCluster | undefined;
let standalone: RedisServer | undefined;

afterAll(async () => {
  await killChildren();
  await sentinel?.stop();
  await cluster?.stop();
  await standalone?.stop();
  reportDrill('13-topologies', figures, `lease on standalone, Sentinel and Cluster: ${JSON.stringify(figures)}`);
});

async function startWorkers(redis: object, prefix: string): Promise<ChildNode[]> {
  const workers = Array.from({ length: PROCESSES }, (_, i) =>
    spawnTsChild(`${prefix}-${i + 1}`, 'test/drills/support/cache-worker.ts', [JSON.stringify(redis), prefix]),
  );
  await Promise.all(workers.map((w) => w.next('ready', 60_000)));
  return workers;
}

let ids = 0;

/**
 * Rounds of cold keys on every process at once; returns the loads per key of each round (summed over processes).
 * `expiring`: the same keys every round, with a TTL shorter than the pause between rounds (each round after an expiry).
 */
async function coldRounds(workers: ChildNode[], tag: string, expiring = false): Promise<number[][]> {
  const rounds: number[][] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const keys = Array.from({ length: KEYS }, (_, i) => (expiring ? `${tag}-exp-${i}` : `${tag}-${round}-${i}`));
    const id = ++ids;
    if (expiring && round > 0) await new Promise((r) => setTimeout(r, SHORT_TTL_MS + 300));
    for (const w of workers)
      w.send({ cmd: 'keys', id, keys, callsPerKey: CALLS_PER_KEY, loadMs: 50, shortTtl: expiring });
    const answers = await Promise.all(
      workers.map((w) => w.next<{ type: 'keys'; loads: Record<string, number>; errors: string[] }>('keys', 30_000)),
    );
    expect(answers.flatMap((a) => a.errors)).toEqual([]);
    rounds.push(keys.map((k) => answers.reduce((n, a) => n + (a.loads[k] ?? 0), 0)));
  }
  return rounds;
}

/** One hot cold key, 500 concurrent leased callers per process: one load, one value for everyone. */
async function burst(workers: ChildNode[], key: string): Promise<{ loads: number; values: number; errors: string[] }> {
  const id = ++ids;
  for (const w of workers) w.send({ cmd: 'burst', id, method: 'lease', key, calls: 500, loadMs: 200 });
  const results = await Promise.all(
    workers.map((w) => w.next<BurstResult & { [k: string]: unknown }>('burst', 30_000)),
  );
  const values = new Set(results.flatMap((r) => Object.keys(r.tokens)));
  return {
    loads: results.reduce((n, r) => n + r.loaderCalls, 0),
    values: values.size,
    errors: results.flatMap((r) => r.errors),
  };
}

describe.each([
  [
    'standalone (cold starts also in drill 13)',
    'standalone',
    async (): Promise<object> => {
      standalone = await RedisServer.start();
      return { host: standalone.host, port: standalone.port };
    },
  ],
  [
    'Sentinel (primary + replica + 3 sentinels)',
    'sentinel',
    async (): Promise<object> => {
      sentinel = await SentinelTopology.start();
      return { sentinels: sentinel.sentinelNodes, name: sentinel.name };
    },
  ],
  [
    'Cluster (3 masters)',
    'cluster',
    async (): Promise<object> => {
      cluster = await LocalCluster.start();
      return { cluster: { nodes: cluster.seeds } };
    },
  ],
])('lease exactly once per key on %s', (_name, tag, start) => {
  let workers: ChildNode[] = [];
  beforeAll(async () => {
    workers = await startWorkers(await start(), `lease-${tag}`);
  }, 90_000);
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill('SIGKILL')));
  });

  it(`${KEYS} cold keys × ${CALLS_PER_KEY} callers on ${PROCESSES} processes, ${ROUNDS} rounds: 1 load per key`, async () => {
    const rounds = await coldRounds(workers, tag);
    const extra = rounds.flatMap((perKey, r) =>
      perKey.flatMap((n, i) => (n === 1 ? [] : [`round ${r} key ${i}: ${n}`])),
    );
    figures[tag] = {
      processes: PROCESSES,
      rounds: ROUNDS,
      keysPerRound: KEYS,
      callersPerKeyPerProcess: CALLS_PER_KEY,
      loadsPerRound: rounds.map((perKey) => perKey.reduce((a, b) => a + b, 0)),
      keysNotLoadedExactlyOnce: extra,
    };
    expect(extra).toEqual([]);
  });

  it(`the same ${KEYS} keys after each of ${ROUNDS - 1} expiries (TTL ${SHORT_TTL_MS} ms): 1 load per key per expiry`, async () => {
    const rounds = await coldRounds(workers, tag, true);
    const extra = rounds.flatMap((perKey, r) =>
      perKey.flatMap((n, i) => (n === 1 ? [] : [`round ${r} key ${i}: ${n}`])),
    );
    figures[`${tag}PerExpiry`] = {
      rounds: ROUNDS,
      keys: KEYS,
      loadsPerRound: rounds.map((k) => k.reduce((a, b) => a + b, 0)),
    };
    expect(extra).toEqual([]);
  });

  it('one hot cold key, 500 callers per process: 1 load, 1 value', async () => {
    const got = await burst(workers, `${tag}-hot`);
    expect(got.errors).toEqual([]);
    expect(got.loads).toBe(1);
    expect(got.values).toBe(1);
  });
});
