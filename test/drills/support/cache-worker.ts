// A child process for multi-process drills: boots a small Nest application context with the cache module against
// the Redis given on the command line and answers commands over IPC. Run through the bench loader:
//   node --import ./bench/register.js test/drills/support/cache-worker.ts <redisUrl> <prefix>
// <redisUrl> may also be the `redis` option as JSON (Sentinel, Cluster, TLS): '{"cluster":{"nodes":[...]}}'.
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Cached, CacheModule, CacheService } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';

/** What a loader returns: who produced it, so callers can tell one load from another. */
export interface Produced {
  key: string;
  token: string;
}

/** Commands the parent sends. */
export type WorkerCommand =
  | { cmd: 'burst'; id: number; method: 'plain' | 'lease'; key: string; calls: number; loadMs: number }
  | { cmd: 'hang'; id: number; key: string }
  /** Many keys at once, `callsPerKey` concurrent leased calls each: how many loads each key took here. */
  | { cmd: 'keys'; id: number; keys: string[]; callsPerKey: number; loadMs: number; shortTtl?: boolean }
  | { cmd: 'close' };

/** The answer to a burst: loader calls in this process and what every caller got. */
export interface BurstResult {
  type: 'burst';
  id: number;
  pid: number;
  loaderCalls: number;
  /** Loader start times (epoch ms), in order. */
  loaderStartedAt: number[];
  /** token → number of callers that got it. */
  tokens: Record<string, number>;
  errors: string[];
  inFlightAfter: number;
  ms: number;
  startedAt: number;
}

const LEASE = { ttl: '1s', wait: '8s' } as const;
/** The TTL of `leasedShort` entries (test/topologies/lease.spec.ts waits past it). */
const SHORT_TTL_MS = 500;

@Injectable()
class HotSource {
  loaderCalls = 0;
  loaderStartedAt: number[] = [];
  loadMs = 200;
  /** Set by `hang`: the next loader tells the parent it holds the lease, then never returns. */
  hangNext = false;

  /** Loads per key since the last `keys` command. */
  loadsByKey = new Map<string, number>();

  private async produce(key: string): Promise<Produced> {
    this.loaderCalls++;
    this.loadsByKey.set(key, (this.loadsByKey.get(key) ?? 0) + 1);
    this.loaderStartedAt.push(Date.now());
    if (this.hangNext) {
      this.hangNext = false;
      process.send?.({ type: 'loading', pid: process.pid, key, at: Date.now() });
      await new Promise<never>(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, this.loadMs));
    return { key, token: `${process.pid}:${randomUUID()}` };
  }

  @Cached({ namespace: 'hot', key: (key: string) => key, lease: false })
  async plain(key: string): Promise<Produced> {
    return this.produce(key);
  }

  @Cached({ namespace: 'hot-lease', key: (key: string) => key, lease: LEASE })
  async leased(key: string): Promise<Produced> {
    return this.produce(key);
  }

  /** Leased with a short TTL (no grace): each expiry is a cold start again. */
  @Cached({ namespace: 'short-lease', key: (key: string) => key, lease: LEASE, ttl: SHORT_TTL_MS })
  async leasedShort(key: string): Promise<Produced> {
    return this.produce(key);
  }
}

async function main(): Promise<void> {
  const [redisUrl, prefix] = process.argv.slice(2);
  if (!redisUrl || !prefix) throw new Error('usage: cache-worker.ts <redisUrl> <prefix>');

  const redis = redisUrl.startsWith('{') ? (JSON.parse(redisUrl) as CacheModuleOptions['redis']) : redisUrl;
  @Module({ imports: [CacheModule.forRoot({ prefix, redis, commandTimeout: 500 })], providers: [HotSource] })
  class WorkerModule {}

  const app = await NestFactory.createApplicationContext(WorkerModule, { logger: ['error'] });
  const source = app.get(HotSource);
  const cache = app.get(CacheService);
  let closing = false;
  const close = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    await app.close();
    if (process.connected) process.disconnect();
  };
  // The parent went away (or the Jest worker died): do not outlive it.
  process.on('disconnect', () => void close());

  process.on('message', (msg: WorkerCommand) => {
    void (async () => {
      if (msg.cmd === 'close') return close();
      if (msg.cmd === 'keys') {
        source.loadsByKey = new Map();
        source.loadMs = msg.loadMs;
        const settled = await Promise.allSettled(
          msg.keys.flatMap((key) =>
            Array.from({ length: msg.callsPerKey }, () =>
              msg.shortTtl ? source.leasedShort(key) : source.leased(key),
            ),
          ),
        );
        const errors = settled.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
        process.send?.({ type: 'keys', id: msg.id, loads: Object.fromEntries(source.loadsByKey), errors });
        return;
      }
      if (msg.cmd === 'hang') {
        source.hangNext = true;
        void source.leased(msg.key).catch(() => undefined);
        return;
      }
      source.loaderCalls = 0;
      source.loaderStartedAt = [];
      source.loadMs = msg.loadMs;
      const call = msg.method === 'plain' ? (k: string) => source.plain(k) : (k: string) => source.leased(k);
      const startedAt = Date.now();
      const started = performance.now();
      const settled = await Promise.allSettled(Array.from({ length: msg.calls }, () => call(msg.key)));
      const tokens: Record<string, number> = {};
      const errors: string[] = [];
      for (const r of settled) {
        if (r.status === 'fulfilled') tokens[r.value.token] = (tokens[r.value.token] ?? 0) + 1;
        else errors.push(String((r.reason as Error)?.message ?? r.reason));
      }
      const result: BurstResult = {
        type: 'burst',
        id: msg.id,
        pid: process.pid,
        loaderCalls: source.loaderCalls,
        loaderStartedAt: source.loaderStartedAt,
        tokens,
        errors,
        inFlightAfter: cache.stats().inFlight,
        ms: Math.round(performance.now() - started),
        startedAt,
      };
      process.send?.(result);
    })().catch((err: unknown) => process.send?.({ type: 'fatal', error: String((err as Error)?.stack ?? err) }));
  });
  process.send?.({ type: 'ready', pid: process.pid });
}

main().catch((err: unknown) => {
  process.send?.({ type: 'fatal', error: String((err as Error)?.stack ?? err) });
  process.exitCode = 1;
  if (process.connected) process.disconnect();
});
