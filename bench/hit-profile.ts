/**
 * Where a hit's time goes: one sequential hit loop (concurrency 1) of one target, for a CPU profile and per-hit CPU
 * on both sides; or `compare`, every target in interleaved rounds, for before/after figures of a change.
 *
 *   PROFILE_OUT=.tmp/hit.cpuprofile node --import ./bench/register.js bench/hit-profile.ts tiercache
 *   node --import ./bench/register.js bench/hit-profile.ts raw
 *   node --import ./bench/register.js bench/hit-profile.ts compare
 *
 * Targets:
 *   raw        raw ioredis 6, GET + JSON.parse (the Redis floor)
 *   raw5       raw ioredis 5, the same (the floor of bench/cache.bench.ts, from bench/peers)
 *   bounded    what any cache with bounded reads on ioredis 6 costs at least: one GETRANGE (a `ReadCommand`, on a
 *              connection with tiercache's fail-fast options) and the envelope's decode, nothing else — no breaker,
 *              no counting, no single-flight, no decorator
 *   tiercache  a `@Cached` method, Redis only
 *   tiered     the same with a memory tier of 16 entries, keys cycled over 1,024: every hit is read from Redis
 *   lru        raw lru-cache 11, awaited get (the memory floor)
 *   memory     a `@Cached` method with a warm memory tier (10,000 entries): every hit is a memory hit
 *
 * With PROFILE_OUT, V8's sampling profiler (what `node --cpu-prof` uses) records the measured loop only, not the
 * boot; the top self-time frames are printed and the profile is written there (open it in Chrome DevTools).
 * Prints client CPU per hit (`process.cpuUsage`), and for the Redis targets redis-server CPU per hit (`INFO cpu`)
 * and the commands a hit sends with their `usec_per_call` (`INFO commandstats`).
 * `compare` prints, per target, the median over rounds of hits/s and client CPU per hit (user, sys), and against its
 * floor (raw5, bounded, tiercache and tiered: raw; memory: lru) the median of the per-round differences of CPU per hit and of the
 * per-round ratios of hits/s (what bench/cache.bench.ts reports), then the Redis targets' ratios to raw5: where the
 * ratio of bench/cache.bench.ts goes, step by step. On a shared machine the paired figures are the steadier ones.
 * Env: PROFILE_MS (default 5000, one target), ROUND_MS (default 1000) and ROUNDS (default 7) for `compare`,
 * CONCURRENCY (default 1: that many callers loop at once; run unpinned for more than 1, as the c=64 bench row),
 * ALSO (one target: other targets, comma-separated, run for 1 s each first, as in a process that runs them all).
 */
import 'reflect-metadata';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { CacheModule, CacheService } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { RedisServer } from '../test/harness/redis-server.js';
import { profile as userProfile, ProfileModule, ProfileService } from './profile.js';
import type { Profile as UserProfile } from './profile.js';
import { median } from './median.js';
import { loadPeers } from './peers/load-peers.js';

const MS = Number(process.env.PROFILE_MS ?? 5_000);
const ROUND_MS = Number(process.env.ROUND_MS ?? 1_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 1);
const KEYS = 1024;
const TARGETS = ['raw', 'raw5', 'bounded', 'tiercache', 'tiered', 'lru', 'memory'] as const;
type Target = (typeof TARGETS)[number];
const arg = process.argv[2] ?? 'tiercache';
if (arg !== 'compare' && !(TARGETS as readonly string[]).includes(arg)) {
  console.error(`usage: hit-profile.ts ${TARGETS.join('|')}|compare`);
  process.exit(2);
}

async function counters(admin: Redis): Promise<{ cpuUs: number; cmds: Map<string, [number, number]> }> {
  const info = await admin.info('all');
  const num = (k: string): number => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  const cmds = new Map<string, [number, number]>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm))
    cmds.set(m[1]!, [Number(m[2]), Number(m[3])]);
  return { cpuUs: (num('used_cpu_user') + num('used_cpu_sys')) * 1e6, cmds };
}

interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples?: number[];
  timeDeltas?: number[];
}

/** The 15 frames with the most self time, as a share of all samples (idle included: time spent waiting on Redis). */
function printTop(profile: Profile): void {
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const self = new Map<string, number>();
  let total = 0;
  (profile.samples ?? []).forEach((id, i) => {
    const dt = profile.timeDeltas?.[i] ?? 0;
    const f = frames.get(id);
    if (f === undefined) return;
    const where = f.url.replace(/^.*?\/(node_modules\/|libs\/cache\/src\/)/, '$1');
    const name = `${f.functionName || '(anonymous)'}${where === '' ? '' : ` ${where}:${f.lineNumber + 1}`}`;
    self.set(name, (self.get(name) ?? 0) + dt);
    total += dt;
  });
  console.log('self time  frame');
  for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 15))
    console.log(`${((us / total) * 100).toFixed(1).padStart(8)}%  ${name}`);
}

/** One target, ready to loop: its hit, and what must stay true of the hits it served. */
interface Bench {
  op: (i: number) => unknown;
  redis: boolean;
  check(): void;
}

async function boot(url: string, prefix: string, extra: Partial<CacheModuleOptions>): Promise<INestApplicationContext> {
  return NestFactory.createApplicationContext(
    {
      module: ProfileModule,
      imports: [CacheModule.forRoot({ redis: url, prefix, defaultTtl: '1h', isGlobal: true, ...extra })],
      providers: [ProfileService],
    },
    { logger: false },
  );
}

async function setUp(target: Target, server: RedisServer, closers: (() => Promise<unknown>)[]): Promise<Bench> {
  switch (target) {
    case 'raw': {
      const raw = new Redis({ host: server.host, port: server.port });
      closers.push(() => raw.quit());
      await Promise.all(Array.from({ length: KEYS }, (_, i) => raw.set(`raw:${i}`, JSON.stringify(userProfile(i)))));
      return { op: async (i) => JSON.parse((await raw.get(`raw:${i}`))!), redis: true, check: () => undefined };
    }
    case 'raw5': {
      const raw5 = (await loadPeers()).ioredis5({ host: server.host, port: server.port });
      closers.push(() => raw5.quit());
      await Promise.all(Array.from({ length: KEYS }, (_, i) => raw5.set(`raw:${i}`, JSON.stringify(userProfile(i)))));
      return { op: async (i) => JSON.parse((await raw5.get(`raw:${i}`))!), redis: true, check: () => undefined };
    }
    case 'bounded': {
      // Internal parts, from this checkout's source (not exported by the package).
      const { ReadCommand, readShapeOf } = await import('../libs/cache/src/backends/redis/read-command.js');
      const { createRedisClient } = await import('../libs/cache/src/backends/redis/redis-client.factory.js');
      const { resolveOptions } = await import('../libs/cache/src/options/options.resolver.js');
      const { decodeEntry, encodeEntry } = await import('../libs/cache/src/codec/entry.codec.js');
      const resolved = resolveOptions({ redis: server.url, prefix: 'prof_bounded' });
      const { client } = createRedisClient(resolved.redis!, {
        commandTimeoutMs: resolved.commandTimeoutMs,
        connectionName: 'prof_bounded',
      });
      await client.connect();
      closers.push(() => client.quit());
      const keys = Array.from({ length: KEYS }, (_, i) => `prof_bounded:profile:=n${i}`);
      const now = Date.now();
      for (let i = 0; i < KEYS; i++) {
        const entry = encodeEntry({ value: userProfile(i), createdAt: now, expiresAt: now + 3_600_000 });
        await client.set(keys[i]!, entry, 'PX', 3_600_000);
      }
      let misses = 0;
      const shape = readShapeOf(client, String(resolved.defaultNamespace.maxValueBytes + 64), (_key, raw) => {
        const entry = raw === null || raw.length === 0 ? undefined : decodeEntry(raw);
        if (entry === undefined || entry.expiresAt <= Date.now()) misses++;
        return entry?.value;
      });
      if (shape === undefined) throw new Error('bounded: not a client of this copy of ioredis');
      return {
        op: (i) => client.sendCommand(new ReadCommand(keys[i]!, shape)),
        redis: true,
        check: () => {
          if (misses > 0) throw new Error(`bounded: ${misses} reads were not hits`);
        },
      };
    }
    case 'lru': {
      const lru = new LRUCache<string, UserProfile>({ max: 10_000 });
      for (let i = 0; i < KEYS; i++) lru.set(`bench:profile:${i}`, userProfile(i));
      // As bench/cache.bench.ts measures it: the same key shape, and awaited (the caller of a cache always awaits).
      return { op: (i) => lru.get(`bench:profile:${i}`), redis: false, check: () => undefined };
    }
    default: {
      const memory =
        target === 'tiered' ? { maxEntries: 16 } : target === 'memory' ? { maxEntries: 10_000 } : undefined;
      const app = await boot(server.url, `prof_${target}`, memory ? { memory } : {});
      closers.push(() => app.close());
      const svc = app.get(ProfileService);
      const stats = (): { memoryHits: number; redisHits: number } => {
        const s = app.get(CacheService).stats().namespaces['profile'];
        return { memoryHits: s?.memoryHits ?? 0, redisHits: s?.redisHits ?? 0 };
      };
      for (let i = 0; i < KEYS; i++) await svc.getProfile(i); // fill
      if (target === 'memory') {
        // The memory tier serves only once the invalidation bus is subscribed: read until it does.
        const deadline = performance.now() + 5_000;
        while (stats().memoryHits < KEYS) {
          if (performance.now() > deadline) throw new Error('the memory tier never served a hit');
          for (let i = 0; i < KEYS; i++) await svc.getProfile(i);
          await sleep(10);
        }
      }
      const loads = svc.loads;
      const before = stats();
      return {
        op: (i) => svc.getProfile(i),
        redis: target !== 'memory',
        check: () => {
          const after = stats();
          const memoryHits = after.memoryHits - before.memoryHits;
          const redisHits = after.redisHits - before.redisHits;
          if (svc.loads !== loads) throw new Error(`${target}: a hit called the loader`);
          const wrong = target === 'memory' ? redisHits : memoryHits;
          if (wrong > 0.01 * (memoryHits + redisHits))
            throw new Error(`${target}: ${memoryHits} memory hits and ${redisHits} Redis hits`);
        },
      };
    }
  }
}

interface Round {
  n: number;
  ms: number;
  user: number;
  sys: number;
}

async function loop(op: (i: number) => unknown, ms: number): Promise<Round> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const end = started + ms;
  let n = 0;
  // The clock is read every 64 hits: a memory hit costs less than a clock read.
  const worker = async (): Promise<void> => {
    do {
      for (let j = 0; j < 64; j++) await op(n++ % KEYS);
    } while (performance.now() < end);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const used = process.cpuUsage(cpu);
  return { n, ms: performance.now() - started, user: used.user, sys: used.system };
}

async function compare(server: RedisServer, closers: (() => Promise<unknown>)[]): Promise<void> {
  const benches = new Map<Target, Bench>();
  for (const t of TARGETS) benches.set(t, await setUp(t, server, closers));
  for (const b of benches.values()) await loop(b.op, 500);
  const rounds = new Map<Target, Round[]>(TARGETS.map((t) => [t, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? [...TARGETS] : [...TARGETS].reverse();
    for (const t of order) rounds.get(t)!.push(await loop(benches.get(t)!.op, ROUND_MS));
  }
  for (const b of benches.values()) b.check();
  const floorOf: Partial<Record<Target, Target>> = {
    raw5: 'raw',
    bounded: 'raw',
    tiercache: 'raw',
    tiered: 'raw',
    memory: 'lru',
  };
  console.log(`${ROUNDS} rounds × ${ROUND_MS} ms, interleaved; medians over rounds (per-round pairs for Δ and ratio)`);
  const rows = TARGETS.map((t) => {
    const rs = rounds.get(t)!;
    const perHit = (r: Round): number => (r.user + r.sys) / r.n;
    const floor = floorOf[t] === undefined ? undefined : rounds.get(floorOf[t]!)!;
    const pair = (f: (r: Round, base: Round) => number): number[] => (floor ? rs.map((r, i) => f(r, floor[i]!)) : []);
    const ratios = pair((r, base) => r.n / r.ms / (base.n / base.ms));
    const deltas = pair((r, base) => perHit(r) - perHit(base));
    return [
      t,
      `${(median(rs.map((r) => (r.n / r.ms) * 1000)) / 1000).toFixed(1)}k`,
      median(rs.map(perHit)).toFixed(2),
      median(rs.map((r) => r.user / r.n)).toFixed(2),
      median(rs.map((r) => r.sys / r.n)).toFixed(2),
      floor ? `${median(deltas) >= 0 ? '+' : ''}${median(deltas).toFixed(2)}` : '',
      floor
        ? `${median(ratios).toFixed(2)}× ${floorOf[t]!} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`
        : '',
    ];
  });
  const header = ['target', 'hits/s', 'client µs/hit', 'user', 'sys', 'Δ µs/hit vs floor', 'ratio to floor (range)'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  for (const r of [header, ...rows])
    console.log(
      r.map((cell, c) => (c === 0 || c === 6 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '),
    );
  const base = rounds.get('raw5')!;
  const ladder = (['raw', 'bounded', 'tiercache', 'tiered'] as const).map((t) => {
    const ratio = median(rounds.get(t)!.map((r, i) => r.n / r.ms / (base[i]!.n / base[i]!.ms)));
    return `${t} ${ratio.toFixed(3)}`;
  });
  console.log(`against raw5 (per-round ratios of hits/s, medians): ${ladder.join(', ')}`);
}

async function single(
  target: Target,
  server: RedisServer,
  admin: Redis,
  closers: (() => Promise<unknown>)[],
): Promise<void> {
  // The other targets first, when asked: the profile then sees the JIT state of a process that ran them all.
  for (const other of (process.env.ALSO ?? '').split(',').filter((t) => t !== '')) {
    if (!(TARGETS as readonly string[]).includes(other)) throw new Error(`ALSO: unknown target ${other}`);
    await loop((await setUp(other as Target, server, closers)).op, 1_000);
  }
  const bench = await setUp(target, server, closers);
  const warmEnd = performance.now() + 1_000;
  for (let i = 0; performance.now() < warmEnd; i++) await bench.op(i % KEYS);

  const session = process.env.PROFILE_OUT === undefined ? undefined : new Session();
  if (session !== undefined) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
  }
  const before = await counters(admin);
  const { n, user, sys } = await loop(bench.op, MS);
  const after = await counters(admin);
  if (session !== undefined) {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    await writeFile(process.env.PROFILE_OUT!, JSON.stringify(profile));
    printTop(profile);
  }
  bench.check();

  const cmds = [...after.cmds]
    .filter(([name]) => name !== 'info')
    .map(([name, [calls, usec]]) => {
      const [c0, u0] = before.cmds.get(name) ?? [0, 0];
      return { name, perHit: (calls - c0) / n, usecPerCall: calls > c0 ? (usec - u0) / (calls - c0) : 0 };
    })
    .filter((c) => c.perHit >= 0.01);
  const redis = bench.redis
    ? `; redis CPU ${((after.cpuUs - before.cpuUs) / n).toFixed(2)} µs/hit; ` +
      `commands/hit: ${cmds.map((c) => `${c.name}×${c.perHit.toFixed(2)} @${c.usecPerCall.toFixed(2)}µs`).join(', ')}`
    : '';
  console.log(
    `${target}: ${n} hits in ${MS} ms (${((n / MS) * 1000).toFixed(0)}/s); client CPU ${((user + sys) / n).toFixed(2)} µs/hit ` +
      `(user ${(user / n).toFixed(2)}, sys ${(sys / n).toFixed(2)})${redis}`,
  );
}

async function main(): Promise<void> {
  const server = await RedisServer.start();
  const admin = new Redis({ host: server.host, port: server.port });
  const closers: (() => Promise<unknown>)[] = [() => admin.quit()];
  try {
    if (arg === 'compare') await compare(server, closers);
    else await single(arg as Target, server, admin, closers);
  } finally {
    const keepAlive = setInterval(() => undefined, 1_000);
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await server.stop();
    clearInterval(keepAlive);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
