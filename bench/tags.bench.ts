/**
 * Tags at any size, in `npm run bench` (also alone: `node --import ./bench/register.js bench/tags.bench.ts`).
 *
 * One private redis-server; a separate process PINGs it every millisecond (test/drills/support/ping-probe.ts): its
 * worst round trip is the stall every other client of that Redis sees. For each size, entries `{ i }` tagged `big`
 * are stored (the first 10,000 written by tiercache, the rest copies of their stamped bytes), then timed:
 * `invalidateTags(['big'])`, `invalidatePrefix` of those entries, and `clearNamespace` of as many. Each row gives the
 * wall time, the worst PING of the other process, the slowest command in SLOWLOG (threshold 1 ms; '-' = none) and
 * Redis's own latency events (LATENCY LATEST, threshold 1 ms: `command`, `expire-cycle`, ...);
 * an idle row first shows the machine's own noise (on a loaded host even a single-key command can read 3-4 ms, so
 * redis-server and the prober run at nice -10 when the bench may renice them).
 * Prints a table and adds `tags` to bench/results.json. Env: BENCH_TAG_SIZES (default 10000,100000,1000000).
 */
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { CacheModule, CacheService, composeKey } from 'nestjs-tiercache';
import type { PingWindow } from '../test/drills/support/ping-probe.js';
import { killChildren, spawnTsChild } from '../test/drills/support/processes.js';
import { hostReclaim } from '../test/drills/support/host-reclaim.js';
import { RedisServer } from '../test/harness/redis-server.js';

const SIZES = (process.env.BENCH_TAG_SIZES ?? '10000,100000,1000000').split(',').map(Number);
const PREFIX = 'tb';
const COPY_BATCH = 10_000;
const VIA_API = 10_000;
/**
 * How long the idle row watches the PINGs with nothing else running: about as long as the longest operation (a clear
 * of 1,000,000 keys), since the worst of more PINGs is worse on a noisy host.
 */
const IDLE_MS = 10_000;
const HOUR_MS = 3_600_000;

interface Row {
  op: string;
  entries: number;
  ms: number;
  worstPingMs: number;
  /** The 99.9th percentile of the other process's PINGs, ms. */
  p999PingMs: number;
  /** PINGs over 5 ms, of all sent meanwhile (about one per ms). */
  pingsOver5: string;
  slowestCommandMs: number | null;
  /** The slowest command and its first argument (SLOWLOG). */
  slowestCommand: string | null;
  /** Redis's own latency events of 1 ms or more meanwhile (LATENCY LATEST: event → worst ms), e.g. `command`. */
  events: Record<string, number>;
}

@Module({})
class BenchModule {}

/**
 * Stores `count` entries: the first 10,000 (a tag index's cap) through tiercache, 500 at a time, so the tag's index
 * is full; the others as copies of the first one's bytes (same tags, same generation stamps), pipelined. Keys are
 * strings (`composeKey` output or plain), which tiercache stores verbatim under `<prefix>:<namespace>:`.
 */
async function store(
  cache: CacheService,
  admin: Redis,
  namespace: string,
  count: number,
  key: (i: number) => string,
  tags: readonly string[] | undefined,
): Promise<void> {
  const viaApi = Math.min(count, VIA_API);
  for (let from = 0; from < viaApi; from += 500) {
    const batch: Promise<boolean>[] = [];
    for (let i = from; i < Math.min(viaApi, from + 500); i++)
      batch.push(cache.set(namespace, key(i), { i }, tags ? { tags } : undefined));
    await Promise.all(batch);
  }
  const first = `${PREFIX}:${namespace}:${key(0)}`;
  const bytes = await admin.getBuffer(first);
  if (bytes === null) throw new Error(`bench: ${first} was not stored`);
  for (let from = viaApi; from < count; from += COPY_BATCH) {
    const pipeline = admin.pipeline();
    for (let i = from; i < Math.min(count, from + COPY_BATCH); i++)
      pipeline.set(`${PREFIX}:${namespace}:${key(i)}`, bytes, 'PX', HOUR_MS);
    await pipeline.exec();
  }
}

async function main(): Promise<void> {
  const redis = await RedisServer.start();
  const admin = new Redis(redis.url, { lazyConnect: true });
  await admin.connect();
  const probe = spawnTsChild('ping-probe', 'test/drills/support/ping-probe.ts', [redis.url]);
  await probe.next('ready');
  const raised = raisePriority([redis.pid, probe.pid]);
  const app = await NestFactory.createApplicationContext(
    {
      module: BenchModule,
      imports: [CacheModule.forRoot({ prefix: PREFIX, redis: redis.url, memory: false, defaultTtl: '1h' })],
    },
    { logger: false },
  );
  const cache = app.get(CacheService);
  const rows: Row[] = [];

  const window = async (): Promise<PingWindow> => {
    probe.send({ cmd: 'window' });
    return probe.next<PingWindow & { [field: string]: unknown }>('window');
  };
  const measure = async (op: string, entries: number, run: () => Promise<unknown>): Promise<void> => {
    await admin.config('SET', 'slowlog-log-slower-than', '1000');
    await admin.config('SET', 'latency-monitor-threshold', '1');
    await admin.slowlog('RESET');
    await admin.call('LATENCY', 'RESET');
    await window();
    const started = performance.now();
    await run();
    const ms = performance.now() - started;
    const pings = await window();
    const log = (await admin.slowlog('GET', 128)) as [number, number, number, string[]][];
    const latest = (await admin.call('LATENCY', 'LATEST')) as [string, number, number, number][];
    const events = Object.fromEntries(latest.map(([event, , , max]) => [event, max]));
    const slowest = log.reduce<[number, string[]] | null>(
      (max, [, , us, args]) => (max === null || us > max[0] ? [us, args] : max),
      null,
    );
    rows.push({
      op,
      entries,
      ms: Math.round(ms),
      worstPingMs: round(pings.maxMs),
      p999PingMs: round(pings.p999Ms),
      pingsOver5: `${pings.over5} / ${pings.pings}`,
      slowestCommandMs: slowest ? slowest[0] / 1000 : null,
      slowestCommand: slowest ? slowest[1].slice(0, 2).join(' ').slice(0, 60) : null,
      events,
    });
  };

  try {
    // The machine's own noise: the worst PING (and slowest command) while nothing else runs.
    await measure('idle (nothing running)', 0, () => new Promise((resolve) => setTimeout(resolve, IDLE_MS)));
    for (const size of SIZES) {
      await admin.flushall();
      await store(cache, admin, 'item', size, (i) => composeKey('grp', i), ['big']);
      await store(cache, admin, 'keep', 1_000, (i) => composeKey('grp', i), ['small']);
      await measure('invalidateTags', size, () => cache.invalidateTags(['big']));
      if ((await cache.get('item', composeKey('grp', size - 1))) !== undefined)
        throw new Error('bench: tag not invalidated');
      await measure('invalidatePrefix', size, () => cache.invalidatePrefix('item', ['grp']));
      await store(cache, admin, 'bulk', size, (i) => `k${i}`, undefined);
      await measure('clearNamespace', size, () => cache.clearNamespace('bulk'));
      // Straight from Redis (a cache read may time out on a loaded host and answer a miss).
      if ((await admin.exists(`${PREFIX}:keep:${composeKey('grp', 999)}`, `${PREFIX}:__tag:small`)) !== 2)
        throw new Error('bench: other tag lost');
    }
  } finally {
    // The harness unrefs its processes: hold the event loop open until they are gone.
    const hold = setInterval(() => undefined, 1_000);
    await app.close();
    admin.disconnect();
    await killChildren();
    await redis.stop();
    clearInterval(hold);
  }

  console.log(
    `\nTags at any size (a separate process PINGs every 1 ms; SLOWLOG threshold 1 ms; redis-server and the prober ${raised ? 'at nice -10' : 'at normal priority (renice refused)'})`,
  );
  const reclaim = hostReclaim();
  if (reclaim !== undefined)
    console.log(
      `host: ${reclaim} — the kernel's memory reclaim stalls Redis's O(1) commands for ms while it frees memory (see test/drills/support/host-reclaim.ts)`,
    );
  console.log(
    '| operation | entries | wall ms | worst PING of the other process, ms | PING p99.9, ms | PINGs over 5 ms | slowest command, ms | which | Redis latency events, worst ms |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |');
  for (const r of rows) {
    const events = Object.entries(r.events)
      .map(([event, ms]) => `${event} ${ms}`)
      .join(', ');
    console.log(
      `| ${r.op} | ${r.entries.toLocaleString('en')} | ${r.ms} | ${r.worstPingMs} | ${r.p999PingMs} | ${r.pingsOver5} | ${r.slowestCommandMs ?? '-'} | ${r.slowestCommand ?? ''} | ${events || '-'} |`,
    );
  }

  const out = new URL('./results.json', import.meta.url);
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(await readFile(out, 'utf8')) as Record<string, unknown>;
  } catch {
    // no earlier results (run alone): write the tags section only
  }
  json['tags'] = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, niced: raised, rows };
  await writeFile(out, `${JSON.stringify(json, null, 2)}\n`);
}

/**
 * Runs redis-server and the prober at nice -10 when allowed, so that on a shared, loaded host the figures measure
 * Redis being busy with our commands rather than the scheduler preempting it. False when renice was refused.
 */
function raisePriority(pids: readonly (number | undefined)[]): boolean {
  return pids.every((pid) => pid !== undefined && spawnSync('renice', ['-n', '-10', '-p', String(pid)]).status === 0);
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

await main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
