/**
 * A Redis hit's JavaScript time, without the socket: every client's socket write is answered from a table of the
 * replies Redis gave for each key, on the next turn of the event loop, through the client's own reply path (its data
 * handler, RESP decoder and command queue). No kernel, no redis-server and no scheduler in the figures, so a change
 * of a few hundred nanoseconds in the hit path shows (the pinned loop of cache.bench.ts cannot resolve one).
 *
 *   node --import ./bench/register.js bench/socket-free.ts
 *   BOT_TEST_LIBRARY_SRC=$PWD/.tmp/before/src node --import ./bench/register.js bench/socket-free.ts   # A/B
 *
 * Targets, in interleaved rounds (ROUNDS, default 11, of ROUND_MS, default 400):
 *   raw5, raw6   raw ioredis 5 / 6, GET + JSON.parse
 *   tiercache    a `@Cached` method, Redis only
 *   tiered       the same with a memory tier of 16 entries, keys cycled over 1,024: every hit is read from Redis and
 *                filled into memory (evicting another)
 * and, unless BOT_TEST_LIBRARY_SRC points at another copy of the library, the layers under the decorated method:
 *   read         the hit's read command (`ReadCommand`) and the envelope's decode
 *   backend      RedisBackend.read
 *   reader       EntryReader.read (breaker, recovery and size checks, counters)
 * SF_ONLY (comma-separated target names, raw6 always included) runs only those, e.g. under `node --cpu-prof`.
 * Prints each target's median CPU per hit (`process.cpuUsage`: this process only) and its difference from raw6.
 */
import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { CacheModule, CacheService } from 'nestjs-tiercache';
import { RedisServer } from '../test/harness/redis-server.js';
import { loadPeers } from './peers/load-peers.js';
import { profile, ProfileModule, ProfileService } from './profile.js';
import { median } from './median.js';

const KEYS = 1024;
const ROUND_MS = Number(process.env.ROUND_MS ?? 400);
const ROUNDS = Number(process.env.ROUNDS ?? 11);

interface Socket {
  write(data: string | Buffer): boolean;
  emit(event: 'data', chunk: Buffer): boolean;
}

/** RESP bulk string of `bytes`. */
const bulk = (bytes: Buffer): Buffer =>
  Buffer.concat([Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n')]);

/** From now on, the client's socket answers a one-key command (`*N $len name $len key …`) from `replies`. */
function answerFrom(client: object, replies: Map<string, Buffer>): void {
  const stream = (client as { stream: Socket }).stream;
  stream.write = (data) => {
    const text = typeof data === 'string' ? data : data.toString('latin1');
    let at = 0;
    for (let n = 0; n < 4; n++) at = text.indexOf('\r\n', at) + 2;
    const reply = replies.get(text.slice(at, text.indexOf('\r\n', at)));
    if (reply === undefined) throw new Error(`socket-free: no reply for ${JSON.stringify(text.slice(0, 80))}`);
    setImmediate(() => stream.emit('data', reply));
    return true;
  };
}

async function cpuPerHit(op: (i: number) => unknown, ms: number): Promise<number> {
  const cpu = process.cpuUsage();
  const end = performance.now() + ms;
  let n = 0;
  do {
    for (let j = 0; j < 64; j++) await op(n++ % KEYS);
  } while (performance.now() < end);
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / n;
}

/** The layers under the decorated method, from this checkout's source (internal: not exported by the package). */
async function layers(
  app: INestApplicationContext,
  keys: string[],
): Promise<Record<string, (i: number) => Promise<unknown>>> {
  const { CACHE_ENGINE } = await import('../libs/cache/src/cache.constants.js');
  const { CacheEngine } = await import('../libs/cache/src/engine/cache-engine.js');
  const { RedisBackend } = await import('../libs/cache/src/backends/redis/redis.backend.js');
  const { ReadCommand, readShapeOf } = await import('../libs/cache/src/backends/redis/read-command.js');
  const { decodeEntry } = await import('../libs/cache/src/codec/entry.codec.js');
  const engine = app.get<unknown>(CACHE_ENGINE);
  if (!(engine instanceof CacheEngine) || !(engine.store.backend instanceof RedisBackend))
    throw new Error('socket-free: the layers need this checkout’s library, Redis only');
  const { backend } = engine.store;
  // The default bound (1 MiB values plus the envelope); the table answers whatever the range.
  const shape = readShapeOf(backend.client, '1048602')!;
  return {
    read: async (i) => decodeEntry((await backend.client.sendCommand(new ReadCommand(keys[i]!, shape))) as Buffer),
    backend: (i) => backend.read(keys[i]!),
    reader: (i) => engine.reader.read('profile', keys[i]!, undefined),
  };
}

async function main(): Promise<void> {
  const server = await RedisServer.start();
  const peers = await loadPeers();
  const raw6 = new Redis({ host: server.host, port: server.port });
  const raw5 = peers.ioredis5({ host: server.host, port: server.port });
  // tiercache's own connection, passed in (`redis: { client }`) so that its socket can be answered from the table.
  const client = new Redis({
    host: server.host,
    port: server.port,
    enableOfflineQueue: false,
    commandTimeout: 250,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
  });
  const app = await NestFactory.createApplicationContext(
    {
      module: ProfileModule,
      imports: [CacheModule.forRoot({ redis: { client }, prefix: 'sf', defaultTtl: '1h', isGlobal: true })],
      providers: [ProfileService],
    },
    { logger: false },
  );
  const tieredClient = client.duplicate();
  const tieredApp = await NestFactory.createApplicationContext(
    {
      module: ProfileModule,
      imports: [
        CacheModule.forRoot({
          redis: { client: tieredClient },
          prefix: 'sft',
          defaultTtl: '1h',
          isGlobal: true,
          memory: { maxEntries: 16 },
        }),
      ],
      providers: [ProfileService],
    },
    { logger: false },
  );
  try {
    const svc = app.get(ProfileService);
    const tiered = tieredApp.get(ProfileService);
    const tieredCache = tieredApp.get(CacheService);
    const tieredReplies = new Map<string, Buffer>();
    const rawReplies = new Map<string, Buffer>();
    const replies = new Map<string, Buffer>();
    // An id's entry key, `<prefix>:<namespace>:=n<id>` (docs/ARCHITECTURE.md); checked below against what is stored.
    const keys = Array.from({ length: KEYS }, (_, i) => `sf:profile:=n${i}`);
    for (let i = 0; i < KEYS; i++) {
      await raw6.set(`raw:${i}`, JSON.stringify(profile(i)));
      rawReplies.set(`raw:${i}`, bulk((await raw6.getBuffer(`raw:${i}`))!));
      await svc.getProfile(i);
      const stored = await raw6.getBuffer(keys[i]!);
      if (stored === null) throw new Error(`socket-free: no entry at ${keys[i]!}: has the key grammar changed?`);
      replies.set(keys[i]!, bulk(stored));
      await tiered.getProfile(i);
      tieredReplies.set(`sft:profile:=n${i}`, bulk((await raw6.getBuffer(`sft:profile:=n${i}`))!));
    }
    // The memory tier is used only once the invalidation bus is subscribed.
    const deadline = performance.now() + 5_000;
    while (!tieredCache.stats().redisConnected || tieredCache.stats().memory?.entries !== 16) {
      if (performance.now() > deadline) throw new Error('socket-free: the tiered copy never filled its memory tier');
      for (let i = 0; i < KEYS; i++) await tiered.getProfile(i);
      await new Promise((r) => setTimeout(r, 10));
    }
    await raw5.ping();
    answerFrom(raw6, rawReplies);
    answerFrom(raw5, rawReplies);
    answerFrom(client, replies);
    answerFrom(tieredClient, tieredReplies);
    const targets: Record<string, (i: number) => unknown> = {
      raw5: async (i) => JSON.parse((await raw5.get(`raw:${i}`))!) as unknown,
      raw6: async (i) => JSON.parse((await raw6.get(`raw:${i}`))!) as unknown,
      tiercache: (i) => svc.getProfile(i),
      tiered: (i) => tiered.getProfile(i),
      ...(process.env.BOT_TEST_LIBRARY_SRC === undefined ? await layers(app, keys) : {}),
    };
    // SF_ONLY: some targets only (comma-separated), e.g. one target under `node --cpu-prof`.
    const only = process.env.SF_ONLY?.split(',');
    const names = Object.keys(targets).filter((n) => only === undefined || only.includes(n));
    if (!names.includes('raw6')) names.unshift('raw6');
    for (const name of names) await cpuPerHit(targets[name]!, 1_000);
    const loads = svc.loads + tiered.loads;
    const memoryHits = (): number => tieredCache.stats().namespaces['profile']?.memoryHits ?? 0;
    const memoryHitsBefore = memoryHits();
    const rounds = new Map<string, number[]>(names.map((n) => [n, []]));
    for (let r = 0; r < ROUNDS; r++)
      for (const name of r % 2 === 0 ? names : [...names].reverse())
        rounds.get(name)!.push(await cpuPerHit(targets[name]!, ROUND_MS));
    if (svc.loads + tiered.loads !== loads) throw new Error('socket-free: a hit called the loader');
    if (memoryHits() !== memoryHitsBefore) throw new Error('socket-free: the tiered copy served memory hits');
    const floor = rounds.get('raw6')!;
    console.log(`${ROUNDS} rounds × ${ROUND_MS} ms, interleaved; CPU per hit (this process), medians over rounds`);
    for (const name of names) {
      const us = rounds.get(name)!;
      const delta = median(us.map((x, r) => x - floor[r]!));
      console.log(
        `${name.padEnd(10)} ${median(us).toFixed(2).padStart(6)} µs/hit  ${delta >= 0 ? '+' : ''}${delta.toFixed(2)} vs raw6`,
      );
    }
  } finally {
    await app.close();
    await tieredApp.close();
    client.disconnect();
    tieredClient.disconnect();
    raw5.disconnect();
    raw6.disconnect();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
