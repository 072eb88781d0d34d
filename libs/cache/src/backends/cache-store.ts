import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { decodeEntry } from '../codec/entry.codec.js';
import type { InvalidationMessage } from '../invalidation/invalidation-message.js';
import { InvalidationBus } from '../invalidation/invalidation.bus.js';
import type { ResolvedCacheOptions } from '../options/resolved-options.js';
import { RecentInvalidations } from '../invalidation/recent-invalidations.js';
import { ReplayQueue } from '../invalidation/replay-queue.js';
import { CircuitBreaker } from '../resilience/circuit-breaker.js';
import { SingleFlight } from '../resilience/single-flight.js';
import type { CacheBackend } from './cache-backend.interface.js';
import type { CacheEntry } from './cache-entry.js';
import { MemoryBackend } from './memory.backend.js';
import type { RedisClient } from './redis/redis-client.factory.js';
import { createRedisClient, redact, scrubCredentials } from './redis/redis-client.factory.js';
import { RedisBackend } from './redis/redis.backend.js';
import { TieredBackend } from './tiered.backend.js';

/** Slack added to a write's deadline beyond the command timeout (clock measurement error, scheduling). */
const LATE_WRITE_MARGIN_MS = 500;

/** Hooks the store calls; the service wires them to logging, metrics and events. */
export interface CacheStoreHooks {
  onRemoteInvalidation?(message: InvalidationMessage): void;
  onConnectionChange?(up: boolean, reason?: string): void;
  onEvict?(count: number): void;
  /**
   * Redis answered again after failures — the circuit breaker closed (a probe succeeded), or an operation succeeded
   * after failures too few to open it: time to redo queued invalidations.
   */
  onBreakerClosed?(): void;
  onWarning?(topic: string, message: string): void;
}

/**
 * The runtime of one CacheModule: the backend chain, the Redis connections it owns, the in-flight loads and the
 * invalidation bus. Built once at boot (connecting with a bounded wait) and closed on shutdown.
 */
export class CacheStore {
  readonly instanceId = randomUUID();
  readonly flights = new SingleFlight();
  readonly backend: CacheBackend;
  readonly memory: MemoryBackend | undefined;
  readonly redis: RedisClient | undefined;
  /** Open after consecutive Redis failures: operations answer from the source at once. Undefined without Redis. */
  readonly breaker: CircuitBreaker | undefined;
  /** Invalidations that could not reach Redis, redone on recovery. */
  readonly replay: ReplayQueue;
  private readonly subscriber: RedisClient | undefined;
  private readonly bus: InvalidationBus | undefined;
  private readonly logger = new Logger('CacheStore');
  private hooks: CacheStoreHooks = {};
  private redisUp = false;
  /** Redis server time minus local time, measured on every (re)connect (TIME), for write deadlines. */
  private clockOffsetMs = 0;
  private evicted = 0;

  constructor(readonly options: ResolvedCacheOptions) {
    const onEvict = (n: number): void => {
      this.evicted += n;
      this.hooks.onEvict?.(n);
    };
    this.memory = options.memory ? new MemoryBackend({ ...options.memory, onEvict }) : undefined;
    this.replay = new ReplayQueue(options.maxPendingInvalidations);
    if (!options.redis) {
      this.backend = this.memory ?? new MemoryBackend({ maxEntries: 10_000, maxBytes: 64 * 1024 * 1024, onEvict });
      return;
    }
    const name = `${options.prefix}:cache`;
    this.redis = createRedisClient(options.redis, { commandTimeoutMs: options.commandTimeoutMs, connectionName: name });
    this.breaker = new CircuitBreaker(
      {
        threshold: options.breaker.threshold,
        // A write-through that failed in a blip too short to open the circuit is queued too: replay it on the next success.
        onRecovered: () => this.hooks.onBreakerClosed?.(),
      },
      (state) => {
        if (state === 'open') {
          this.hooks.onWarning?.(
            'breaker',
            `Redis circuit opened after ${options.breaker.threshold} consecutive failures; serving from the source, probing every ${options.breaker.probeIntervalMs} ms.`,
          );
          this.startProbing();
        } else {
          this.stopProbing();
        }
      },
    );
    this.watch(this.redis, 'main');
    const remote = new RedisBackend(this.redis, {
      prefix: options.prefix,
      // A stored value larger than any namespace accepts is removed by the server, never transferred.
      maxReadBytes:
        Math.max(
          options.defaultNamespace.maxValueBytes,
          ...[...options.namespaces.values()].map((ns) => ns.maxValueBytes),
        ) + 64,
      // Late writes are refused by Redis itself: the deadline is in server time, corrected by the measured offset.
      notAfter: () => Date.now() + this.clockOffsetMs + options.commandTimeoutMs + LATE_WRITE_MARGIN_MS,
    });
    if (!this.memory) {
      this.backend = remote;
      return;
    }
    this.subscriber = createRedisClient(options.redis, {
      commandTimeoutMs: options.commandTimeoutMs,
      connectionName: `${name}:bus`,
    });
    this.watch(this.subscriber, 'bus');
    const memory = this.memory;
    this.bus = new InvalidationBus(
      this.redis,
      this.subscriber,
      options.prefix,
      this.instanceId,
      options.commandTimeoutMs,
      {
        onMessage: (msg) => this.applyRemote(msg),
        onTrustChange: () => {
          // Messages may have been missed while unsubscribed, and none will arrive until resubscribed: start over.
          memory.clear();
        },
      },
    );
    const noMemory = [...options.namespaces]
      .filter(([, ns]) => !ns.memory)
      .map(([name]) => `${options.prefix}:${name}:`);
    const useMemory = noMemory.length === 0 ? () => true : (key: string) => !noMemory.some((p) => key.startsWith(p));
    this.backend = new TieredBackend(
      memory,
      remote,
      () => this.bus?.trusted ?? false,
      (b) => decodeEntry(b) as CacheEntry,
      useMemory,
    );
  }

  /** Connects (bounded by redis.connectTimeout); never throws: an unreachable Redis leaves the cache degraded. */
  async connect(): Promise<void> {
    const clients = [this.redis, this.subscriber].filter((c): c is RedisClient => c !== undefined);
    await Promise.all(
      clients.map((client) =>
        client.connect().catch((err: unknown) => {
          this.logger.warn(
            redact(`Redis not reachable at boot (${(err as Error).message}); serving from the source until it is.`),
          );
        }),
      ),
    );
    this.bus?.start();
  }

  setHooks(hooks: CacheStoreHooks): void {
    this.hooks = hooks;
  }

  /** Entries the memory tier evicted for space (not expiry) since boot; read by stats() and the metrics. */
  get evictions(): number {
    return this.evicted;
  }

  /** Entries and bytes of the in-process tier (or of the memory backend), null when there is none. */
  get memoryUsage(): { entries: number; bytes: number } | null {
    if (this.memory) return this.memory.usage;
    return this.backend instanceof MemoryBackend ? this.backend.usage : null;
  }

  /** True when Redis is configured and connected. */
  get redisConnected(): boolean {
    return this.redisUp;
  }

  /** Tells other instances what changed (keys, tags or a cleared prefix); a no-op without the bus. */
  async publish(change: Omit<InvalidationMessage, 'v' | 'p' | 'o'>): Promise<void> {
    await this.bus?.publish(change);
  }

  /** Invalidations sent recently, redone after a reconnect (a failover may have lost them). */
  readonly recent = new RecentInvalidations();

  /**
   * Applies an invalidation to this instance's memory tier at once, whatever then happens with Redis (down,
   * breaker open): the instance must never read back the value it just invalidated.
   */
  dropLocal(change: { keys?: readonly string[]; tags?: readonly string[]; prefix?: string }): void {
    const memory = this.memory;
    if (!memory || !(this.backend instanceof TieredBackend)) return;
    if (change.keys) memory.deleteSync(change.keys);
    if (change.tags) memory.invalidateTagsSync(this.options.prefix, change.tags);
    if (change.prefix !== undefined) memory.clearPrefixSync(change.prefix);
  }

  /** Synchronous memory lookup for the decorator hot path (undefined without a usable memory tier). */
  readonly peek: <T>(key: string) => CacheEntry<T> | undefined = (key) => this.peekImpl(key);

  private peekImpl<T>(key: string): CacheEntry<T> | undefined {
    const backend = this.backend;
    if (backend instanceof TieredBackend || backend instanceof MemoryBackend) {
      // Resolved once: the hot path then calls the tier directly, without instanceof checks.
      const bound = backend.peek.bind(backend) as <U>(k: string) => CacheEntry<U> | undefined;
      (this as { peek: <U>(k: string) => CacheEntry<U> | undefined }).peek = bound;
      return bound<T>(key);
    }
    (this as { peek: <U>(k: string) => CacheEntry<U> | undefined }).peek = () => undefined;
    return undefined;
  }

  async close(): Promise<void> {
    this.stopProbing();
    this.bus?.stop();
    await this.backend.close();
    await Promise.all(
      [this.redis, this.subscriber].map(async (client) => {
        if (!client) return;
        client.removeAllListeners('ready');
        await client.quit().catch(() => client.disconnect());
      }),
    );
  }

  private applyRemote(msg: InvalidationMessage): void {
    const memory = this.memory;
    if (!memory) return;
    if (msg.keys) {
      memory.deleteSync(msg.keys);
      this.flights.invalidate(msg.keys);
    }
    if (msg.tags) {
      memory.invalidateTagsSync(this.options.prefix, msg.tags);
      this.flights.invalidatePrefix('');
    }
    if (msg.clear) {
      memory.clearPrefixSync(msg.clear);
      this.flights.invalidatePrefix(msg.clear);
    }
    this.hooks.onRemoteInvalidation?.(msg);
  }

  private async measureClock(client: RedisClient, attempt = 1): Promise<void> {
    try {
      const sent = Date.now();
      const [seconds, micros] = await client.time();
      const received = Date.now();
      const server = Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
      this.clockOffsetMs = server - (sent + received) / 2;
      if (Math.abs(this.clockOffsetMs) > 1_000) {
        this.logger.warn(
          `Redis clock differs from this host's by ${Math.round(this.clockOffsetMs)} ms; write deadlines are corrected for it.`,
        );
      }
    } catch (err) {
      this.logger.debug(redact(`TIME failed: ${(err as Error).message}`));
      this.retrySoon(client, attempt, () => this.measureClock(client, attempt + 1));
    }
  }

  /**
   * Runs a boot-time check again a little later: at boot the event loop can be busy long enough for a command sent
   * on 'ready' to hit its timeout although Redis answered. A few attempts, unref'd, none once the client has ended.
   */
  private retrySoon(client: RedisClient, attempt: number, again: () => Promise<void>): void {
    if (attempt >= 3 || client.status === 'end') return;
    setTimeout(() => {
      if (client.status !== 'end') void again();
    }, 1_000 * attempt).unref();
  }

  private probe: NodeJS.Timeout | undefined;
  private probing = false;

  /** While the circuit is open, PING in the background about once per probeInterval; success closes it. */
  private startProbing(): void {
    if (this.probe || !this.redis) return;
    const client = this.redis;
    this.probe = setInterval(() => {
      if (this.probing || client.status !== 'ready') return;
      this.probing = true;
      client
        .ping()
        .then(
          () => this.breaker?.reset(),
          (err: unknown) => this.logger.debug(redact(`probe failed: ${(err as Error).message}`)),
        )
        .finally(() => (this.probing = false));
    }, this.options.breaker.probeIntervalMs);
    this.probe.unref();
  }

  private stopProbing(): void {
    if (this.probe) clearInterval(this.probe);
    this.probe = undefined;
  }

  private hygieneChecked = false;

  /** Warns once when Redis may refuse writes when full (no maxmemory, or the noeviction policy). Uses INFO only. */
  private async checkHygiene(client: RedisClient, attempt = 1): Promise<void> {
    if (this.hygieneChecked && attempt === 1) return;
    this.hygieneChecked = true;
    try {
      const info = await client.info('memory');
      const maxmemory = /^maxmemory:(\d+)/m.exec(info)?.[1];
      const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
      if (maxmemory === '0' || policy === 'noeviction') {
        this.logger.warn(
          `Redis maxmemory is ${maxmemory === '0' ? 'unset (0)' : maxmemory} with policy ${policy ?? 'unknown'}: when it fills up, writes fail (counted as refused) instead of evicting. Set maxmemory and an allkeys-lru/allkeys-lfu policy for a cache.`,
        );
      }
    } catch (err) {
      this.logger.debug(redact(`INFO memory failed: ${(err as Error).message}`));
      // Not checked after all: try again shortly; after the last attempt, on the next reconnect.
      if (attempt >= 3) this.hygieneChecked = false;
      this.retrySoon(client, attempt, () => this.checkHygiene(client, attempt + 1));
    }
  }

  private watch(client: RedisClient, role: string): void {
    // Without an 'error' listener ioredis would raise an unhandled 'error' event and crash the process.
    client.on('error', (err: Error) => {
      scrubCredentials(err);
      this.logger.debug(redact(`redis ${role}: ${err.message}`));
    });
    if (role !== 'main') return;
    client.on('ready', () => {
      if (this.redisUp) return;
      this.redisUp = true;
      this.breaker?.reset();
      this.hooks.onConnectionChange?.(true);
      void this.checkHygiene(client);
      void this.measureClock(client);
    });
    client.on('close', () => {
      if (!this.redisUp) return;
      this.redisUp = false;
      this.hooks.onConnectionChange?.(false, 'connection closed');
    });
  }
}
