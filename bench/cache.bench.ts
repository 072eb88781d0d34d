/**
 * `npm run bench`: tiercache against its floors (raw ioredis, raw lru-cache), measured side by side in one run on a
 * private redis-server. Short rounds of the library and its floor alternate (A B B A …) so drift and other load on
 * the machine hit both alike; the ratio is the median of the per-round ratios, ops/s and percentiles pool all rounds.
 * CPU µs/op (this process: the client side, Redis excluded) is printed too: it is the steadier figure on a busy box.
 * Env: BENCH_ROUND_MS (default 300), BENCH_ROUNDS (default 10).
 */
import 'reflect-metadata';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Module } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { Cached, CacheModule, CacheService } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { RedisServer } from '../test/harness/redis-server.js';

const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const WARMUP_MS = 400;
/** Distinct keys cycled through, so 64 concurrent callers never share one in-flight read (no single-flight help). */
const KEYS = 1024;
const STAMPEDE_CALLS = 1000;
const LOADER_MS = 20;

interface Profile {
  id: number;
  username: string;
  firstName: string;
  lastName: string;
  languageCode: string;
  isPremium: boolean;
  balance: string;
  modelId: string;
  threadId: number;
  createdAt: string;
  settings: { notifications: boolean; theme: string; locale: string };
  tags: string[];
}

/** A ~300-byte JSON object, the shape of a chat bot's user row. */
function profile(id: number): Profile {
  return {
    id,
    username: `user_${String(id).padStart(6, '0')}`,
    firstName: 'Ada',
    lastName: 'Lovelace',
    languageCode: 'en',
    isPremium: true,
    balance: '1234.56',
    modelId: 'gpt-4o-mini',
    threadId: 9_000_000 + id,
    createdAt: '2026-11-22T10:00:00.000Z',
    settings: { notifications: true, theme: 'dark', locale: 'en-GB' },
    tags: ['beta', 'telegram'],
  };
}

/** The provider, decorated exactly as a user would. */
@Injectable()
class ProfileService {
  loads = 0;

  @Cached({ namespace: 'profile', key: (id: number) => id })
  async getProfile(id: number): Promise<Profile> {
    this.loads++;
    return profile(id);
  }

  @Cached({ namespace: 'slow', key: (id: string) => id })
  async slowProfile(_id: string): Promise<Profile> {
    this.loads++;
    await sleep(LOADER_MS);
    return profile(7);
  }
}

@Module({})
class BenchModule {}

async function boot(options: CacheModuleOptions): Promise<INestApplicationContext> {
  return NestFactory.createApplicationContext(
    {
      module: BenchModule,
      imports: [CacheModule.forRoot({ ...options, isGlobal: true })],
      providers: [ProfileService],
    },
    { logger: false },
  );
}

// ---------------------------------------------------------------------------------------------------- measuring

interface Sample {
  ops: number;
  ms: number;
  cpuUs: number;
  latencies: number[];
}

const cpuSince = (start: NodeJS.CpuUsage): number => {
  const u = process.cpuUsage(start);
  return u.user + u.system;
};

const now = (): number => performance.now();

/** `concurrency` async workers calling `op` for `ms`, each op timed. */
async function timedLoop(op: (i: number) => Promise<unknown>, concurrency: number, ms: number): Promise<Sample> {
  const latencies: number[] = [];
  let next = 0;
  const cpu = process.cpuUsage();
  const started = now();
  const end = started + ms;
  const worker = async (): Promise<void> => {
    for (;;) {
      const t0 = now();
      if (t0 >= end) return;
      await op(next++ % KEYS);
      latencies.push(now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ops: latencies.length, ms: now() - started, cpuUs: cpuSince(cpu), latencies };
}

/** One awaited loop (a caller always awaits a cache), clock read every 256 ops: per-op timing would dominate. */
async function awaitedLoop(op: (i: number) => unknown, ms: number): Promise<Sample> {
  let n = 0;
  const cpu = process.cpuUsage();
  const started = now();
  const end = started + ms;
  do {
    for (let j = 0; j < 256; j++) await op(n++ % KEYS);
  } while (now() < end);
  return { ops: n, ms: now() - started, cpuUs: cpuSince(cpu), latencies: [] };
}

let sink: unknown;
/** The same loop without await (context only: no caller of a cache gets this). */
async function syncLoop(op: (i: number) => unknown, ms: number): Promise<Sample> {
  let n = 0;
  const cpu = process.cpuUsage();
  const started = now();
  const end = started + ms;
  do {
    for (let j = 0; j < 4096; j++) sink = op(n++ % KEYS);
  } while (now() < end);
  return { ops: n, ms: now() - started, cpuUs: cpuSince(cpu), latencies: [] };
}

interface Figure {
  opsPerSec: number;
  cpuUsPerOp: number;
  p50Us: number | null;
  p99Us: number | null;
}

function summarize(samples: Sample[]): Figure {
  const ops = samples.reduce((a, s) => a + s.ops, 0);
  const ms = samples.reduce((a, s) => a + s.ms, 0);
  const lat = samples.flatMap((s) => s.latencies).sort((a, b) => a - b);
  const pct = (p: number): number | null =>
    lat.length === 0 ? null : (lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0) * 1000;
  const cpu = samples.reduce((a, s) => a + s.cpuUs, 0);
  return { opsPerSec: (ops / ms) * 1000, cpuUsPerOp: cpu / ops, p50Us: pct(0.5), p99Us: pct(0.99) };
}

/** Warms every variant, then runs ROUNDS interleaved rounds of each. */
async function sideBySide(
  variants: Record<string, (ms: number) => Promise<Sample>>,
): Promise<Record<string, Sample[]>> {
  const names = Object.keys(variants);
  for (const name of names) await variants[name]!(WARMUP_MS);
  const samples: Record<string, Sample[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate the order too, so neither side always runs right after the other.
    for (const name of r % 2 === 0 ? names : [...names].reverse()) samples[name]!.push(await variants[name]!(ROUND_MS));
  }
  return samples;
}

/** Median and range of lib/raw over paired rounds. */
function pairedRatio(lib: Sample[], raw: Sample[]): { ratio: number; min: number; max: number } {
  const rate = (s: Sample): number => s.ops / s.ms;
  const ratios = lib.map((s, i) => rate(s) / rate(raw[i]!)).sort((a, b) => a - b);
  const mid = ratios.length >> 1;
  const ratio = ratios.length % 2 === 1 ? ratios[mid]! : (ratios[mid - 1]! + ratios[mid]!) / 2;
  return { ratio, min: ratios[0]!, max: ratios[ratios.length - 1]! };
}

// ---------------------------------------------------------------------------------------------------- scenarios

interface Row {
  scenario: string;
  lib: Figure;
  raw: Figure;
  ratio: number;
  ratioRange: [number, number];
  /** floor CPU µs/op ÷ tiercache CPU µs/op: the throughput ratio a CPU-bound process would see. */
  cpuRatio: number;
  target: number;
  floor: string;
  extra?: Record<string, Figure>;
}

interface Stampede {
  setup: string;
  calls: number;
  loaderCalls: number;
  wallMs: number;
  loaderMs: number;
}

function hitsOf(app: INestApplicationContext): { memoryHits: number; redisHits: number } {
  const s = app.get(CacheService).stats().namespaces['profile'];
  return { memoryHits: s?.memoryHits ?? 0, redisHits: s?.redisHits ?? 0 };
}

/** Fails loudly if a "hit" benchmark hit the source or the wrong tier: the numbers would be meaningless. */
function expectHits(
  app: INestApplicationContext,
  svc: ProfileService,
  loadsBefore: number,
  tier: 'memoryHits' | 'redisHits',
  before: number,
): void {
  if (svc.loads !== loadsBefore)
    throw new Error(`bench invalid: the source was called ${svc.loads - loadsBefore} times during a hit benchmark`);
  if (hitsOf(app)[tier] <= before) throw new Error(`bench invalid: no ${tier} recorded`);
}

async function redisHit(server: RedisServer, app: INestApplicationContext, raw: Redis): Promise<Row[]> {
  const svc = app.get(ProfileService);
  const rawKeys = Array.from({ length: KEYS }, (_, i) => `raw:profile:${i}`);
  await Promise.all(rawKeys.map((k, i) => raw.set(k, JSON.stringify(profile(i)))));
  for (let i = 0; i < KEYS; i++) await svc.getProfile(i); // fills Redis through the library
  const bytes = Number(await raw.strlen(rawKeys[0]!));
  const loads = svc.loads;
  const before = hitsOf(app).redisHits;

  const rows: Row[] = [];
  for (const concurrency of [1, 64]) {
    const f = await sideBySide({
      lib: (ms) => timedLoop((i) => svc.getProfile(i), concurrency, ms),
      raw: (ms) =>
        timedLoop(async (i) => JSON.parse((await raw.get(`raw:profile:${i}`)) as string) as Profile, concurrency, ms),
    });
    const { ratio, min, max } = pairedRatio(f['lib']!, f['raw']!);
    rows.push({
      scenario: `Redis hit, concurrency ${concurrency}`,
      lib: summarize(f['lib']!),
      raw: summarize(f['raw']!),
      ratio,
      ratioRange: [min, max],
      cpuRatio: summarize(f['raw']!).cpuUsPerOp / summarize(f['lib']!).cpuUsPerOp,
      target: 0.85,
      floor: `ioredis get + JSON.parse (${bytes} B)`,
    });
  }
  expectHits(app, svc, loads, 'redisHits', before);
  if (hitsOf(app).memoryHits !== 0) throw new Error('bench invalid: the Redis-only module served memory hits');
  void server;
  return rows;
}

async function memoryHit(app: INestApplicationContext): Promise<Row> {
  const svc = app.get(ProfileService);
  // The memory tier is used only once the invalidation bus is subscribed: warm until hits come from memory.
  const deadline = now() + 5_000;
  for (let i = 0; i < KEYS; i++) await svc.getProfile(i);
  while (hitsOf(app).memoryHits < KEYS) {
    if (now() > deadline) throw new Error('bench invalid: the memory tier never served a hit (bus not subscribed?)');
    for (let i = 0; i < KEYS; i++) await svc.getProfile(i);
    await sleep(10);
  }
  const lru = new LRUCache<string, Profile>({ max: 10_000 });
  for (let i = 0; i < KEYS; i++) lru.set(`bench:profile:${i}`, profile(i));
  const loads = svc.loads;
  const before = hitsOf(app).memoryHits;

  const f = await sideBySide({
    lib: (ms) => awaitedLoop((i) => svc.getProfile(i), ms),
    raw: (ms) => awaitedLoop((i) => lru.get(`bench:profile:${i}`), ms),
    rawSync: (ms) => syncLoop((i) => lru.get(`bench:profile:${i}`), ms),
  });
  expectHits(app, svc, loads, 'memoryHits', before);
  const { ratio, min, max } = pairedRatio(f['lib']!, f['raw']!);
  return {
    scenario: 'Memory-tier hit (awaited loop)',
    lib: summarize(f['lib']!),
    raw: summarize(f['raw']!),
    ratio,
    ratioRange: [min, max],
    cpuRatio: summarize(f['raw']!).cpuUsPerOp / summarize(f['lib']!).cpuUsPerOp,
    target: 0.5,
    floor: 'await lru-cache get (max 10k)',
    extra: { 'raw lru get, not awaited (context)': summarize(f['rawSync']!) },
  };
}

async function stampede(setup: string, app: INestApplicationContext): Promise<Stampede> {
  const svc = app.get(ProfileService);
  const key = `cold-${setup}-${Date.now()}`;
  const loadsBefore = svc.loads;
  const started = now();
  const results = await Promise.all(Array.from({ length: STAMPEDE_CALLS }, () => svc.slowProfile(key)));
  const wallMs = now() - started;
  if (results.some((r) => r.id !== 7)) throw new Error('stampede: a caller got a wrong value');
  return { setup, calls: STAMPEDE_CALLS, loaderCalls: svc.loads - loadsBefore, wallMs, loaderMs: LOADER_MS };
}

// ---------------------------------------------------------------------------------------------------- output

const fmtOps = (n: number): string =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0);
const fmtCpu = (n: number): string => (n >= 10 ? n.toFixed(1) : n.toFixed(2));
const fmtUs = (n: number | null): string =>
  n === null ? '—' : n >= 1000 ? `${(n / 1000).toFixed(2)}ms` : `${n.toFixed(1)}µs`;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function print(rows: Row[], stampedes: Stampede[]): void {
  const body: string[][] = [];
  for (const r of rows) {
    body.push([
      r.scenario,
      fmtOps(r.lib.opsPerSec),
      fmtUs(r.lib.p50Us),
      fmtUs(r.lib.p99Us),
      fmtCpu(r.lib.cpuUsPerOp),
      fmtOps(r.raw.opsPerSec),
      fmtUs(r.raw.p50Us),
      fmtUs(r.raw.p99Us),
      fmtCpu(r.raw.cpuUsPerOp),
      `${r.ratio.toFixed(2)}× (${r.ratioRange[0].toFixed(2)}–${r.ratioRange[1].toFixed(2)})`,
      `${r.cpuRatio.toFixed(2)}×`,
      `≥${r.target}× ${r.ratio >= r.target ? 'ok' : 'MISS'}`,
    ]);
    for (const [name, f] of Object.entries(r.extra ?? {}))
      body.push([`  ${name}`, '', '', '', '', fmtOps(f.opsPerSec), '', '', fmtCpu(f.cpuUsPerOp), '', '', '']);
  }
  const load = loadavg()[0]!.toFixed(2);
  console.log(
    `\ntiercache bench — node ${process.version}, ${cpus().length} CPUs, load ${load}, ${ROUNDS}×${ROUND_MS} ms per side, interleaved\n`,
  );
  console.log(
    table(
      [
        'hit path',
        'tiercache/s',
        'p50',
        'p99',
        'cpu µs',
        'floor/s',
        'p50',
        'p99',
        'cpu µs',
        'ratio (median, range)',
        'cpu ratio',
        'target',
      ],
      body,
    ),
  );
  console.log(
    `floors: ${rows
      .map((r) => `${r.scenario.split(',')[0]} → ${r.floor}`)
      .filter((v, i, a) => a.indexOf(v) === i)
      .join('; ')}\n`,
  );
  console.log(
    table(
      ['stampede (1 cold key)', 'calls', 'loader calls', 'wall', 'loader'],
      stampedes.map((s) => [
        s.setup,
        String(s.calls),
        String(s.loaderCalls),
        `${s.wallMs.toFixed(1)}ms`,
        `${s.loaderMs}ms`,
      ]),
    ),
  );
}

// ---------------------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const server = await RedisServer.start();
  const opened: { close(): Promise<unknown> }[] = [];
  try {
    const base = { redis: server.url, defaultTtl: '1h' } satisfies CacheModuleOptions;
    const redisApp = await boot({ ...base, prefix: 'bench_redis' });
    opened.push(redisApp);
    const raw = new Redis({ host: server.host, port: server.port }); // default options: the floor
    opened.push({ close: () => raw.quit() });
    await raw.ping();

    const rows = await redisHit(server, redisApp, raw);
    const stampedes = [await stampede('redis only', redisApp)];

    const tieredApp = await boot({ ...base, prefix: 'bench_tiered', memory: { maxEntries: 10_000 } });
    opened.push(tieredApp);
    rows.push(await memoryHit(tieredApp));
    stampedes.push(await stampede('redis + memory', tieredApp));

    print(rows, stampedes);
    const results = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      loadAvg1m: loadavg()[0],
      roundMs: ROUND_MS,
      rounds: ROUNDS,
      keys: KEYS,
      hits: rows,
      stampede: stampedes,
    };
    const out = new URL('./results.json', import.meta.url);
    await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nwrote ${out.pathname}`);
    void sink;
  } finally {
    // RedisServer unrefs its child: with nothing else alive, Node could exit before the child's 'exit' event and
    // leave stop() pending. A ref'd timer keeps the loop up until shutdown has really finished.
    const keepAlive = setInterval(() => undefined, 1_000);
    for (const c of opened.reverse()) await c.close().catch(() => undefined);
    await server.stop();
    clearInterval(keepAlive);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
