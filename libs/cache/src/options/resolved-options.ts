import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { RedisClientLike, RedisNode } from './cache-options.interface.js';

/** A TTL after resolution: fixed milliseconds or a function returning milliseconds. */
export type ResolvedTtl = number | ((value: unknown) => number);

export interface ResolvedNamespace {
  ttl: ResolvedTtl;
  jitter: number;
  maxValueBytes: number;
  memory: boolean;
  graceMs: number;
  softTimeoutMs: number | undefined;
  hardTimeoutMs: number | undefined;
  eagerRefresh: number | undefined;
  lease: ResolvedLease | undefined;
}

export interface ResolvedLease {
  ttlMs: number;
  waitMs: number;
}

/** What every resolved Redis shape may carry: ioredis options passed through. */
interface Passthrough {
  ioredis?: Record<string, unknown>;
}

export type ResolvedRedis =
  | {
      mode: 'client';
      client: RedisClientLike | (() => RedisClientLike);
      connectTimeoutMs: number;
    }
  | (Passthrough & {
      mode: 'standalone';
      host: string;
      port: number;
      username?: string;
      password?: string;
      db: number;
      tls?: TlsOptions;
      connectTimeoutMs: number;
    })
  | (Passthrough & {
      mode: 'sentinel';
      sentinels: RedisNode[];
      name: string;
      username?: string;
      password?: string;
      sentinelUsername?: string;
      sentinelPassword?: string;
      db: number;
      tls?: TlsOptions;
      connectTimeoutMs: number;
    })
  | (Passthrough & {
      mode: 'cluster';
      nodes: RedisNode[];
      username?: string;
      password?: string;
      tls?: TlsOptions;
      connectTimeoutMs: number;
    });

/** Options with every default filled in and every duration in milliseconds; computed once at boot. */
export interface ResolvedCacheOptions {
  /** The cache's name: `'default'` unless `forRoot({ name })` named it. */
  name: string;
  enabled: boolean;
  prefix: string;
  defaultNamespace: ResolvedNamespace;
  namespaces: ReadonlyMap<string, ResolvedNamespace>;
  redis: ResolvedRedis | undefined;
  memory: { maxEntries: number; maxBytes: number; maxTtlMs: number | undefined } | undefined;
  commandTimeoutMs: number;
  cacheNull: boolean;
  logThrottleMs: number;
  breaker: { threshold: number; probeIntervalMs: number };
  maxPendingInvalidations: number;
  deployId: string;
  tracing: boolean;
}
