/**
 * Outage scenario of `npm run bench` (also runnable alone: `node --import ./bench/register.js bench/outage.bench.ts`).
 *
 * One private redis-server; against it, side by side in one process and under the same fault:
 *   - tiercache, Redis only          (`@Cached`, default commandTimeout 250 ms, default breaker 3 failures / 1 s probe)
 *   - tiercache, Redis + memory tier (same, `memory: { maxEntries: 10_000 }`)
 *   - raw ioredis 6 and 5 with their defaults (`new Redis(url)`, a naive get → load → set cache-aside, no try/catch)
 *   - the peers of bench/peers, as their READMEs set them up: cache-manager 7 + @keyv/redis and bentocache 1.6, each
 *     Redis only and with its memory tier (`wrap` / `getOrSet`)
 * Each client has CALLERS steady callers (each: call, 1 ms pause, next call) over its own keys; the loader takes ~5 ms.
 * Faults: (1) SIGKILL, then restart on the same port; (2) SIGSTOP, then SIGCONT. Every call is timed; a call still
 * pending after BENCH_RAW_CAP_MS (default 10 s) is abandoned by the bench and counted as "hung" (ioredis would hang
 * ~74 s after a SIGKILL and forever on a SIGSTOP). Prints a table and adds `outage` to bench/results.json.
 * Env: BENCH_OUTAGE_MS (fault length, default 10500), BENCH_RAW_CAP_MS (default 10000).
 */
import 'reflect-metadata';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Module } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { Cached, CacheModule, CacheService } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { RedisServer } from '../test/harness/redis-server.js';
import { loadPeers } from './peers/load-peers.js';
import type { PeerCache, RawRedis } from './peers/peers.js';
import { profile } from './profile.js';
import type { Profile } from './profile.js';

const OUTAGE_MS = Number(process.env.BENCH_OUTAGE_MS ?? 10_500);
const CAP_MS = Number(process.env.BENCH_RAW_CAP_MS ?? 10_000);
const BASELINE_MS = 1_000;
/** Longest wait for every client to serve a hit again after the restart / SIGCONT (raw ioredis backs off to 5 s). */
const RECOVERY_MAX_MS = 8_000;
const CALLERS = 8;
const KEYS_PER_CALLER = 4;
const LOADER_MS = 5;
const THINK_MS = 1;

const now = (): number => performance.now();

/** The cached value: a ~300 B profile, stamped by the loader (a hit returns a stamp older than the call). */
interface Loaded extends Profile {
  loadedAt: number;
  loadMs: number;
}

/** The source: ~5 ms (a fast database query). */
async function load(id: number): Promise<Loaded> {
  const t0 = now();
  await sleep(LOADER_MS);
  return {
    ...profile(id),
    loadedAt: t0,
    loadMs: now() - t0,
  };
}

@Injectable()
class OutageService {
  @Cached({ namespace: 'outage', key: (id: number) => id })
  async profile(id: number): Promise<Loaded> {
    return load(id);
  }
}

@Module({})
class OutageModule {}

/** Cache-aside as a user writes it with a default ioredis client: no try/catch, no timeout. */
async function naiveCached(redis: RawRedis, id: number): Promise<Loaded> {
  const key = `raw:outage:${id}`;
  const cached = await redis.get(key);
  if (cached !== null) return JSON.parse(cached) as Loaded;
  const value = await load(id);
  await redis.set(key, JSON.stringify(value), 'EX', 3600);
  return value;
}

// ---------------------------------------------------------------------------------------------------- load

interface Call {
  start: number;
  end: number;
  outcome: 'ok' | 'error' | 'hung' | 'cut';
  /** Answered without running the loader in this call. */
  hit: boolean;
  /** Time spent in the loader during this call (0 on a hit). */
  loadMs: number;
  /** Breaker state when the call started (tiercache only). */
  breaker: string | undefined;
}

/** CALLERS steady callers of one client; each call capped at CAP_MS; stop() cuts what is still pending. */
class Callers {
  readonly calls: Call[] = [];
  private stopping = false;
  private stopNow!: () => void;
  private readonly stopped = new Promise<'cut'>((resolve) => (this.stopNow = () => resolve('cut')));
  private workers: Promise<void>[] = [];

  constructor(
    readonly name: string,
    readonly call: (id: number) => Promise<Loaded>,
    readonly breaker: () => string | undefined,
  ) {}

  start(): void {
    this.workers = Array.from({ length: CALLERS }, (_, w) => this.worker(w));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.stopNow();
    await Promise.all(this.workers);
  }

  private async worker(w: number): Promise<void> {
    for (let j = 0; !this.stopping; j++) {
      const id = w + CALLERS * (j % KEYS_PER_CALLER);
      const breaker = this.breaker();
      const start = now();
      let timer: NodeJS.Timeout | undefined;
      const capped = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), CAP_MS)));
      const call = this.call(id).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
      const r = await Promise.race([call, capped, this.stopped]);
      clearTimeout(timer);
      const end = now();
      if (r === 'hung' || r === 'cut') this.calls.push({ start, end, outcome: r, hit: false, loadMs: 0, breaker });
      else if ('error' in r) this.calls.push({ start, end, outcome: 'error', hit: false, loadMs: 0, breaker });
      else {
        const hit = r.value.loadedAt < start;
        this.calls.push({ start, end, outcome: 'ok', hit, loadMs: hit ? 0 : r.value.loadMs, breaker });
      }
      if (!this.stopping) await sleep(THINK_MS);
    }
  }
}

// ---------------------------------------------------------------------------------------------------- figures

interface Group {
  label: string;
  calls: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** p50/p99 of (call time − loader time): what the cache layer itself added. */
  cacheP50Ms: number | null;
  cacheP99Ms: number | null;
  errors: number;
  /** Calls still unanswered after CAP_MS (abandoned by the bench). */
  hung: number;
  /** Calls still unanswered when the scenario ended (after the recovery window). */
  cut: number;
}

interface ClientResult {
  client: string;
  baseline: Group;
  groups: Group[];
  /** ms from the fault to the first call that saw the breaker open (tiercache). */
  breakerOpenedAfterMs: number | null;
  /** ms from "Redis is back" (restart answered PING / SIGCONT sent) to the end of the first call answered as a hit. */
  hitsAgainMs: number | null;
  /** ms from "Redis is back" to the first poll (every 5 ms) that saw the breaker closed. */
  breakerClosedAfterMs: number | null;
}

interface FaultResult {
  fault: 'SIGKILL' | 'SIGSTOP';
  outageMs: number;
  /** How long the restart took (spawn until PING answers); 0 for SIGCONT. */
  restartMs: number;
  clients: ClientResult[];
}

function pct(sorted: number[], p: number): number | null {
  return sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function group(label: string, calls: Call[]): Group {
  const lat = calls.map((c) => c.end - c.start).sort((a, b) => a - b);
  const own = calls
    .filter((c) => c.outcome === 'ok')
    .map((c) => c.end - c.start - c.loadMs)
    .sort((a, b) => a - b);
  return {
    label,
    calls: calls.length,
    p50Ms: pct(lat, 0.5),
    p99Ms: pct(lat, 0.99),
    maxMs: lat.length === 0 ? null : lat[lat.length - 1]!,
    cacheP50Ms: pct(own, 0.5),
    cacheP99Ms: pct(own, 0.99),
    errors: calls.filter((c) => c.outcome === 'error').length,
    hung: calls.filter((c) => c.outcome === 'hung').length,
    cut: calls.filter((c) => c.outcome === 'cut').length,
  };
}

// ---------------------------------------------------------------------------------------------------- scenario

interface Client {
  callers: Callers;
  breaker: () => string | undefined;
}

async function runFault(fault: 'SIGKILL' | 'SIGSTOP', server: RedisServer, clients: Client[]): Promise<FaultResult> {
  for (const c of clients) c.callers.start();
  await sleep(BASELINE_MS);

  const t0 = now();
  if (fault === 'SIGKILL') await server.kill();
  else server.freeze();
  await sleep(OUTAGE_MS);

  const r0 = now();
  if (fault === 'SIGKILL') await server.restart();
  else server.thaw();
  const back = now();

  // Recovery window: until every client served a hit again (or RECOVERY_MAX_MS).
  const closedAt = new Map<Client, number>();
  const hitAgain = (c: Client): number | undefined => {
    let first: number | undefined;
    for (let i = c.callers.calls.length - 1; i >= 0; i--) {
      const call = c.callers.calls[i]!;
      if (call.end <= back) break;
      if (call.hit && (first === undefined || call.end < first)) first = call.end;
    }
    return first;
  };
  while (now() - back < RECOVERY_MAX_MS) {
    for (const c of clients) if (!closedAt.has(c) && c.breaker() === 'closed') closedAt.set(c, now());
    if (clients.every((c) => hitAgain(c) !== undefined && (c.breaker() === undefined || closedAt.has(c)))) break;
    await sleep(5);
  }
  for (const c of clients) await c.callers.stop();

  return {
    fault,
    outageMs: OUTAGE_MS,
    restartMs: back - r0,
    clients: clients.map((c) => {
      const calls = c.callers.calls;
      // The fault window: calls still running at the fault, or started before Redis was back.
      const during = calls.filter((x) => x.end > t0 && x.start < r0);
      const tiercache = c.breaker() !== undefined;
      const groups = tiercache
        ? [
            group(
              'first: breaker closed',
              during.filter((x) => x.breaker === 'closed'),
            ),
            group(
              'rest: breaker open',
              during.filter((x) => x.breaker !== 'closed'),
            ),
          ]
        : [group('all calls', during)];
      const opened = during.find((x) => x.start > t0 && x.breaker !== 'closed' && x.breaker !== undefined);
      const hit = hitAgain(c);
      const closed = closedAt.get(c);
      return {
        client: c.callers.name,
        baseline: group(
          'before the fault',
          calls.filter((x) => x.end <= t0),
        ),
        groups,
        breakerOpenedAfterMs: opened ? opened.start - t0 : null,
        hitsAgainMs: hit === undefined ? null : hit - back,
        breakerClosedAfterMs: closed === undefined ? null : closed - back,
      };
    }),
  };
}

/** Fills every key of every client and waits until each serves hits (memory hits for the tiered app). */
async function warm(clients: Client[], tiered: INestApplicationContext): Promise<void> {
  const deadline = now() + 10_000;
  const memoryHits = (): number => tiered.get(CacheService).stats().namespaces['outage']?.memoryHits ?? 0;
  const ids = Array.from({ length: CALLERS * KEYS_PER_CALLER }, (_, i) => i);
  for (;;) {
    if (now() > deadline)
      throw new Error('outage bench: clients did not become ready (breaker closed, hits served) within 10 s');
    const before = memoryHits();
    let allHits = true;
    for (const c of clients) {
      for (const id of ids) {
        const t = now();
        const v = await c.callers.call(id).catch(() => undefined);
        if (v === undefined || v.loadedAt >= t) allHits = false;
      }
    }
    if (
      allHits &&
      memoryHits() - before >= ids.length &&
      clients.every((c) => c.breaker() === undefined || c.breaker() === 'closed')
    )
      return;
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------------- output

function fmtMs(ms: number | null): string {
  if (ms === null) return '—';
  if (ms >= CAP_MS - 1) return `>${(CAP_MS / 1000).toFixed(0)}s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)}s`;
  if (ms >= 100) return `${ms.toFixed(0)}ms`;
  if (ms >= 10) return `${ms.toFixed(1)}ms`;
  if (ms >= 1) return `${ms.toFixed(2)}ms`;
  return `${(ms * 1000).toFixed(0)}µs`;
}

function table(header: string[], rows: string[][], leftCols = 3): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, c) => (c < leftCols ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function print(
  results: FaultResult[],
  loadAtStart: number,
  unhandled: string[],
  versions: Record<string, string>,
  ioredisNoise: number,
): void {
  console.log(
    `\noutage — load ${loadAtStart.toFixed(2)} at start; ${CALLERS} callers per client (1 ms pause between calls), loader ${LOADER_MS} ms; ` +
      `tiercache defaults (commandTimeout 250 ms, breaker 3 failures / 1 s probe); fault ${(OUTAGE_MS / 1000).toFixed(1)} s; calls capped at ${(CAP_MS / 1000).toFixed(0)} s\n` +
      `peers with their README setup and defaults: ioredis ${versions['ioredis']}, cache-manager ${versions['cache-manager']} + @keyv/redis ${versions['@keyv/redis']}, ` +
      `bentocache ${versions['bentocache']}; memory tiers 10,000 entries\n`,
  );
  const rows: string[][] = [];
  for (const r of results) {
    r.clients.forEach((c, ci) => {
      c.groups.forEach((g, gi) => {
        const label =
          gi === 0 && c.breakerOpenedAfterMs !== null
            ? `${g.label} (opened @${fmtMs(c.breakerOpenedAfterMs)})`
            : g.label;
        rows.push([
          ci === 0 && gi === 0 ? r.fault : '',
          gi === 0 ? c.client : '',
          label,
          String(g.calls),
          fmtMs(g.p50Ms),
          fmtMs(g.p99Ms),
          fmtMs(g.maxMs),
          fmtMs(g.cacheP99Ms),
          String(g.errors),
          g.cut > 0 ? `${g.hung} (+${g.cut} cut)` : String(g.hung),
          gi === 0 ? `${fmtMs(c.baseline.p50Ms)}` : '',
          gi === 0 ? fmtMs(c.hitsAgainMs) + (c.hitsAgainMs === null ? ` (>${RECOVERY_MAX_MS / 1000}s)` : '') : '',
        ]);
      });
    });
  }
  console.log(
    table(
      [
        'fault',
        'client',
        'calls during the fault',
        'n',
        'p50',
        'p99',
        'max',
        'cache p99',
        'errors',
        `hung>${CAP_MS / 1000}s`,
        'p50 before',
        'hits again',
      ],
      rows,
    ),
  );
  const restart = results.find((r) => r.fault === 'SIGKILL')?.restartMs;
  console.log(
    `${ioredisNoise} "[ioredis] Unhandled error event" lines (from ioredis clients a peer creates without an 'error' listener: bentocache's) were not printed.\n` +
      `hits again: from restart ready${restart === undefined ? '' : ` (restart took ${fmtMs(restart)})`} / SIGCONT to the first call answered without the loader. ` +
      `unhandledRejection/uncaughtException: ${unhandled.length}${unhandled.length ? ` (${[...new Set(unhandled)].slice(0, 3).join('; ')})` : ''}`,
  );
}

// ---------------------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const loadAtStart = loadavg()[0]!;
  const unhandled: string[] = [];
  process.on('unhandledRejection', (err) =>
    unhandled.push(`unhandledRejection: ${(err as Error)?.message ?? String(err)}`),
  );
  process.on('uncaughtException', (err) => unhandled.push(`uncaughtException: ${err.message}`));

  const peers = await loadPeers();
  // ioredis prints every connection error of a client that has no 'error' listener; bentocache creates such clients.
  // Count those lines instead of flooding the table.
  let ioredisNoise = 0;
  const consoleError = console.error;
  console.error = (...args: unknown[]): void => {
    if (typeof args[0] === 'string' && args[0].startsWith('[ioredis] Unhandled error event')) ioredisNoise++;
    else consoleError(...args);
  };
  const server = await RedisServer.start();
  const opened: { close(): Promise<unknown> }[] = [];
  // Keeps the loop alive while servers exit (RedisServer unrefs its child; see cache.bench.ts).
  let keepAlive: NodeJS.Timeout | undefined;
  try {
    const boot = async (options: CacheModuleOptions): Promise<INestApplicationContext> => {
      const app = await NestFactory.createApplicationContext(
        {
          module: OutageModule,
          imports: [CacheModule.forRoot({ ...options, isGlobal: true })],
          providers: [OutageService],
        },
        { logger: false },
      );
      opened.push(app);
      return app;
    };
    const base = { redis: server.url, defaultTtl: '1h' } satisfies CacheModuleOptions;
    const redisApp = await boot({ ...base, prefix: 'bench_outage_redis' });
    const tieredApp = await boot({ ...base, prefix: 'bench_outage_tiered', memory: { maxEntries: 10_000 } });

    const raw = new Redis(server.url); // ioredis defaults, as a user would create it
    const raw5 = peers.ioredis5({ host: server.host, port: server.port });
    let rawErrorEvents = 0;
    // Only silence ioredis's console fallback; they change no behaviour.
    raw.on('error', () => rawErrorEvents++);
    raw5.on('error', () => rawErrorEvents++);
    opened.push({ close: async () => raw.disconnect() }, { close: async () => raw5.disconnect() });
    await Promise.all([raw.ping(), raw5.ping()]);
    const peerCaches: { name: string; cache: PeerCache }[] = [
      { name: 'cache-manager, Redis only', cache: peers.cacheManager(server.url) },
      { name: 'cache-manager, memory+Redis', cache: peers.cacheManager(server.url, { memoryEntries: 10_000 }) },
      { name: 'bentocache, Redis only', cache: peers.bentocache(server.host, server.port) },
      {
        name: 'bentocache, memory+Redis',
        cache: peers.bentocache(server.host, server.port, { memoryEntries: 10_000 }),
      },
    ];
    opened.push(...peerCaches.map((p) => p.cache));

    const breakerOf = (app: INestApplicationContext) => {
      // The public view of the breaker: CacheService.stats().
      const cache = app.get(CacheService);
      return (): string | undefined => cache.stats().breaker ?? undefined;
    };
    const make = (): Client[] => {
      const redisSvc = redisApp.get(OutageService);
      const tieredSvc = tieredApp.get(OutageService);
      return [
        {
          callers: new Callers('tiercache redis', (id) => redisSvc.profile(id), breakerOf(redisApp)),
          breaker: breakerOf(redisApp),
        },
        {
          callers: new Callers('tiercache redis+memory', (id) => tieredSvc.profile(id), breakerOf(tieredApp)),
          breaker: breakerOf(tieredApp),
        },
        {
          callers: new Callers(
            'raw ioredis 6 (defaults)',
            (id) => naiveCached(raw as unknown as RawRedis, id),
            () => undefined,
          ),
          breaker: () => undefined,
        },
        {
          callers: new Callers(
            'raw ioredis 5 (defaults)',
            (id) => naiveCached(raw5, id),
            () => undefined,
          ),
          breaker: () => undefined,
        },
        ...peerCaches.map(({ name, cache }, n) => ({
          callers: new Callers(
            name,
            (id) => cache.getOrSet(`peer${n}:outage:${id}`, () => load(id), 3_600_000),
            () => undefined,
          ),
          breaker: () => undefined,
        })),
      ];
    };

    const results: FaultResult[] = [];
    for (const fault of ['SIGKILL', 'SIGSTOP'] as const) {
      const clients = make();
      await warm(clients, tieredApp);
      results.push(await runFault(fault, server, clients));
    }

    print(results, loadAtStart, unhandled, peers.versions, ioredisNoise);

    const out = new URL('./results.json', import.meta.url);
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(await readFile(out, 'utf8')) as Record<string, unknown>;
    } catch {
      // no earlier results (outage run alone): write the outage section only
    }
    json['outage'] = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      loadAvg1mAtStart: loadAtStart,
      callersPerClient: CALLERS,
      keysPerCaller: KEYS_PER_CALLER,
      loaderMs: LOADER_MS,
      thinkMs: THINK_MS,
      capMs: CAP_MS,
      rawErrorEvents,
      ioredisUnhandledErrorLines: ioredisNoise,
      peers: peers.versions,
      unhandled,
      faults: results,
    };
    await writeFile(out, `${JSON.stringify(json, null, 2)}\n`);
    console.log(`\nadded "outage" to ${out.pathname}`);
    if (unhandled.length > 0) process.exitCode = 1;
  } finally {
    keepAlive = setInterval(() => undefined, 1_000);
    server.thaw(); // never leave a frozen server behind (a no-op unless frozen)
    // A peer whose client is still reconnecting may never settle its close.
    for (const c of opened.reverse()) await Promise.race([c.close().catch(() => undefined), sleep(2_000)]);
    await server.stop();
    clearInterval(keepAlive);
  }
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => {
    // A peer's client still reconnecting would keep the process, and `npm run bench`, alive: exit if anything is left.
    setTimeout(() => process.exit(), 5_000).unref();
  });
