/**
 * An A/B of two copies of the library in one process: this checkout's (A) and another (B, e.g. a `git archive` of
 * an earlier commit), each a `@Cached` Redis hit (concurrency 1, or CONCURRENCY callers), in interleaved rounds with
 * raw ioredis 5 (the floor of bench/cache.bench.ts). Both copies meet the same process, JIT, host and redis-server, so a change of a
 * few percent shows where separate runs of the pinned loop cannot tell it (their run-to-run spread is larger).
 *
 *   git archive <rev> libs/cache/src | tar -x -C .tmp/b
 *   B_SRC=$PWD/.tmp/b/libs/cache/src taskset -c 1 node --import ./bench/register.js bench/ab.ts
 *
 * At concurrency 1 run it under `taskset -c 1` (redis-server, started here, inherits the CPU), as the c=1 row of
 * cache.bench.ts; with CONCURRENCY=64, unpinned, as its c=64 row.
 * Env: B_SRC (required), ROUNDS (default 12) of ROUND_MS (default 300), MEMORY_A / MEMORY_B = 1 to give that copy a
 * 16-entry memory tier (every hit still read from Redis: 1,024 keys cycled), e.g. B_SRC = this checkout's source and
 * MEMORY_A=1 for the memory-tier hit against the Redis-only one; MEMORY_ENTRIES sizes that tier (default 16; below
 * 1,024 every hit is still read from Redis). Prints the medians of the per-round ratios.
 */
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { RedisServer } from '../test/harness/redis-server.js';
import { loadPeers } from './peers/load-peers.js';
import { profile } from './profile.js';
import type { Profile } from './profile.js';
import { median } from './median.js';

type Library = typeof import('nestjs-tiercache');

const KEYS = 1024;
const ROUNDS = Number(process.env.ROUNDS ?? 12);
const ROUND_MS = Number(process.env.ROUND_MS ?? 300);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 1);

/** Boots one copy: a provider decorated with that copy's `@Cached`, warmed so that every call is a hit. */
async function boot(
  lib: Library,
  url: string,
  prefix: string,
  memory: boolean,
): Promise<{ app: INestApplicationContext; hit: (id: number) => Promise<Profile> }> {
  @Injectable()
  class Profiles {
    loads = 0;

    @lib.Cached({ namespace: 'profile', key: (id: number) => id })
    async getProfile(id: number): Promise<Profile> {
      this.loads++;
      return profile(id);
    }
  }
  @Module({})
  class Root {}
  const app = await NestFactory.createApplicationContext(
    {
      module: Root,
      imports: [
        lib.CacheModule.forRoot({
          redis: url,
          prefix,
          defaultTtl: '1h',
          isGlobal: true,
          ...(memory ? { memory: { maxEntries: Number(process.env.MEMORY_ENTRIES ?? 16) } } : {}),
        }),
      ],
      providers: [Profiles],
    },
    { logger: false },
  );
  const profiles = app.get(Profiles);
  for (let id = 0; id < KEYS; id++) await profiles.getProfile(id);
  const loads = profiles.loads;
  return {
    app,
    hit: async (id) => {
      const value = await profiles.getProfile(id);
      if (profiles.loads !== loads) throw new Error(`ab: ${prefix}: a hit called the loader`);
      return value;
    },
  };
}

/** Hits per ms of `op` over `ms`, from CONCURRENCY callers (each one hit at a time, ids spread over the keys). */
async function rate(op: (id: number) => Promise<unknown>, ms: number): Promise<number> {
  const started = performance.now();
  const end = started + ms;
  let n = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, caller) => {
      let id = caller;
      do
        for (let j = 0; j < 64; j++) {
          await op(id % KEYS);
          id += CONCURRENCY;
          n++;
        }
      while (performance.now() < end);
    }),
  );
  return n / (performance.now() - started);
}

async function main(): Promise<void> {
  const bSrc = process.env.B_SRC;
  if (bSrc === undefined) throw new Error('ab: set B_SRC to the other copy’s libs/cache/src');
  const a = (await import('nestjs-tiercache')) as Library;
  const b = (await import(`${bSrc.replace(/\/$/, '')}/index.ts`)) as Library;
  const server = await RedisServer.start();
  const raw5 = (await loadPeers()).ioredis5({ host: server.host, port: server.port });
  const apps: INestApplicationContext[] = [];
  try {
    for (let id = 0; id < KEYS; id++) await raw5.set(`raw:${id}`, JSON.stringify(profile(id)));
    const A = await boot(a, server.url, 'ab-a', process.env.MEMORY_A === '1');
    apps.push(A.app);
    const B = await boot(b, server.url, 'ab-b', process.env.MEMORY_B === '1');
    apps.push(B.app);
    const targets: [string, (id: number) => Promise<unknown>][] = [
      ['raw5', async (id) => JSON.parse((await raw5.get(`raw:${id}`))!) as unknown],
      ['A', A.hit],
      ['B', B.hit],
    ];
    for (const [, op] of targets) await rate(op, 300);
    const rounds = new Map<string, number[]>(targets.map(([name]) => [name, []]));
    for (let r = 0; r < ROUNDS; r++)
      for (const [name, op] of r % 2 === 0 ? targets : [...targets].reverse())
        rounds.get(name)!.push(await rate(op, ROUND_MS));
    const per = (name: string, base: string): number =>
      median(rounds.get(name)!.map((x, r) => x / rounds.get(base)![r]!));
    console.log(
      `raw ioredis 5 ${(median(rounds.get('raw5')!) * 1000).toFixed(0)} hits/s; ` +
        `A ${per('A', 'raw5').toFixed(3)}× and B ${per('B', 'raw5').toFixed(3)}× of it; A/B ${per('A', 'B').toFixed(3)}`,
    );
  } finally {
    for (const app of apps) await app.close();
    raw5.disconnect();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
