import type { Cluster, Redis } from 'ioredis';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { Duration } from './duration.js';

/** A TTL: a duration, or a function of the value computed at write time (e.g. "until midnight"). */
export type Ttl = Duration | ((value: unknown) => Duration);

/** Per-namespace settings; anything unset falls back to the module-level option. */
export interface NamespaceOptions {
  /** Time to live of entries in this namespace. @default the module's `defaultTtl` */
  ttl?: Ttl;
  /** Random extra TTL, as a fraction of the TTL (0.1 = up to +10 %), spreads expiries. @default the module's `jitter` */
  jitter?: number;
  /** Values whose encoded size exceeds this are not cached (counted as refused). @default the module's `maxValueBytes` */
  maxValueBytes?: number;
  /** Keep this namespace in the in-process memory tier too (when one is configured). @default true */
  memory?: boolean;
  /** Fail-safe: keep entries this long past their TTL, to serve when the source throws or is slow. @default the module's `grace` */
  grace?: Duration;
  /** With a stale value in grace, a load slower than this answers with the stale value (the load goes on and refreshes). @default the module's `softTimeout` */
  softTimeout?: Duration;
  /**
   * A load slower than this is cut: callers get the stale value if any, else a CacheError E_TIMEOUT, and the key is
   * free for the next load (a loader that never settles must not hold its key forever). `false` disables it.
   * @default the module's `hardTimeout`
   */
  hardTimeout?: Duration | false;
  /** Refresh a hit in the background once this fraction of its TTL has passed (0 < x < 1), so hot keys never miss. @default the module's `eagerRefresh` */
  eagerRefresh?: number;
  /** Distributed stampede lease: one loader per key across all instances (Redis only). @default the module's `lease` */
  lease?: boolean | LeaseOptions;
}

/** Options of the distributed stampede lease. */
export interface LeaseOptions {
  /** How long a lease holds before another instance may take over (its holder may have died). @default '5s' */
  ttl?: Duration;
  /** How long a waiter polls for the holder's value before loading itself. @default the lease ttl */
  wait?: Duration;
}

/** A Redis node address. */
export interface RedisNode {
  host: string;
  port: number;
}

/** How to reach Redis: standalone (url or host/port), Sentinel (`sentinels` + `name`) or Cluster (`cluster`). */
export interface RedisConnectionOptions {
  /** `redis://[user:password@]host:port/db` or `rediss://…` for TLS. Credentials in it are never logged. */
  url?: string;
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 6379 */
  port?: number;
  username?: string;
  password?: string;
  /** @default 0 */
  db?: number;
  /**
   * `true` for TLS with Node's defaults, or Node TLS options. With Sentinel it secures the sentinels and the data
   * nodes alike (`ioredis: { sentinelTLS }` sets the sentinels' apart); on Cluster, every node. @default false
   */
  tls?: boolean | TlsOptions;
  /** Sentinel addresses; with `name`, connects through Sentinel. */
  sentinels?: RedisNode[];
  /** The Sentinel master group name. */
  name?: string;
  sentinelUsername?: string;
  sentinelPassword?: string;
  /** Cluster seed nodes; when set, connects with ioredis Cluster. */
  cluster?: { nodes: RedisNode[] };
  /** Time allowed to connect at boot before the app starts serving from the source. @default '2s' */
  connectTimeout?: Duration;
  /**
   * Your own ioredis client (Redis or Cluster), or a factory returning a new one on each call (tiercache asks for
   * two: commands and the invalidation bus). A client you pass stays yours — tiercache never closes it (only the
   * duplicate it makes for the bus) — and its fail-fast settings are checked at boot: a warning names each one that
   * would make calls hang (offline queue on, no command timeout, retries). Not combinable with the other options.
   */
  client?: RedisClientLike | (() => RedisClientLike);
  /**
   * ioredis options passed through as they are (`natMap`, `dnsLookup`, TLS details, Cluster `scaleReads`, …), applied
   * over tiercache's fail-fast defaults; the result is checked as for `client`. On Cluster, `redisOptions` inside
   * applies to every node. @default none
   */
  ioredis?: Record<string, unknown>;
}

/** An ioredis connection a user passes in: a `Redis` or a `Cluster` (from ioredis 5 or 6). */
export type RedisClientLike = Redis | Cluster;

/** The optional in-process tier (lru-cache) in front of Redis; without Redis it is the whole cache. */
export interface MemoryTierOptions {
  /** Maximum number of entries. @default 10000 */
  maxEntries?: number;
  /** Maximum total size in bytes (approximate, computed from the encoded value). @default 67108864 (64 MiB) */
  maxBytes?: number;
  /** Upper bound of an entry's life in the memory tier when Redis is the source of truth. @default the entry's TTL */
  maxTtl?: Duration;
}

/**
 * Options of `CacheModule.forRoot` / `forRootAsync`.
 * @example
 * CacheModule.forRoot({ redis: 'redis://127.0.0.1:6379', prefix: 'bot', defaultTtl: '1h', memory: { maxEntries: 10_000 } })
 */
export interface CacheModuleOptions {
  /** `false` makes every decorated method run uncached and every CacheService read a miss. @default true */
  enabled?: boolean;
  /** Every key starts with `<prefix>:`; nothing outside it is ever read or deleted. `[A-Za-z0-9_.-]{1,64}`. @default 'cache' */
  prefix?: string;
  /** TTL of entries whose namespace and call set none. @default '1h' */
  defaultTtl?: Ttl;
  /** Random extra TTL as a fraction (0–1) of the TTL. @default 0 */
  jitter?: number;
  /** Largest encoded value cached, in bytes. @default 5242880 (5 MiB) */
  maxValueBytes?: number;
  /** Per-namespace settings, keyed by namespace name. @default {} */
  namespaces?: Record<string, NamespaceOptions>;
  /** Redis connection: a URL or options. Absent → the in-memory backend. @default undefined */
  redis?: string | RedisConnectionOptions;
  /** In-process tier. With Redis: `false` or absent turns it off. Without Redis it is always on (it is the backend). @default undefined */
  memory?: MemoryTierOptions | false;
  /** Deadline for one Redis command; past it the call is a miss and the source answers. @default '250ms' */
  commandTimeout?: Duration;
  /** Cache `null` results of decorated methods. @default true */
  cacheNull?: boolean;
  /** Minimum interval between two identical warnings in the log. @default '30s' */
  logThrottle?: Duration;
  /** Fail-safe grace period (see NamespaceOptions.grace). @default 0 (off) */
  grace?: Duration;
  /** Soft loader timeout, used when a stale value is in grace. @default none */
  softTimeout?: Duration;
  /**
   * Hard loader timeout: a loader still running after it is cut (callers get the stale value if any, else
   * CacheError E_TIMEOUT) and its key is released. 30 s sits above common upstream limits (HTTP clients, database
   * statement timeouts), so it only cuts loaders that hang. `false` disables it. @default '30s'
   */
  hardTimeout?: Duration | false;
  /** Eager refresh threshold as a fraction of the TTL. @default none (off) */
  eagerRefresh?: number;
  /** Distributed stampede lease for every namespace. @default false */
  lease?: boolean | LeaseOptions;
  /** Circuit breaker per Redis connection. @default { threshold: 3, probeInterval: '1s' } */
  breaker?: { threshold?: number; probeInterval?: Duration };
  /** Identifies this deploy (e.g. a git SHA or image tag): `@WarmUp({ once: true })` runs once per deployId across instances. @default 'default' */
  deployId?: string;
  /**
   * OpenTelemetry span events for cache operations on the caller's active span (namespace, tier, operation, outcome,
   * duration; never keys or values). Needs @opentelemetry/api. @default false (nothing loaded, zero cost)
   */
  tracing?: boolean;
  /** Invalidations kept while Redis is unreachable, redone on recovery; past it, namespaces are cleared whole. @default 10000 */
  maxPendingInvalidations?: number;
}
