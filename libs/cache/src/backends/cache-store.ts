import { randomUUID } from 'node:crypto';
import type { InvalidationMessage } from '../invalidation/invalidation-message.js';
import { InvalidationBus } from '../invalidation/invalidation.bus.js';
import type { KeySpace } from '../keys/key-space.js';
import type { ResolvedCacheOptions } from '../options/resolved-options.js';
import type { CircuitBreaker } from '../resilience/circuit-breaker.js';
import type { CacheBackend } from './cache-backend.interface.js';
import type { CacheEntry } from './cache-entry.js';
import { MemoryBackend } from './memory.backend.js';
import type { RedisClient } from './redis/redis-client.factory.js';
import { RedisConnection } from './redis/redis-connection.js';
import { RedisBackend } from './redis/redis.backend.js';
import { TieredBackend } from './tiered.backend.js';

/** Slack added to a write's deadline beyond the command timeout (clock measurement error, scheduling). */
const LATE_WRITE_MARGIN_MS = 500;

/** What the store tells the engine above it (wired once, by the engine). */
export interface CacheStoreHooks {
  onRemoteInvalidation?(message: InvalidationMessage): void;
  onConnectionChange?(up: boolean, reason?: string): void;
  onRecovered?(): void;
  onWarning?(topic: string, message: string): void;
}

/**
 * The backend chain of one CacheModule, assembled once at boot: memory only, Redis only, or memory in front of Redis
 * with the invalidation bus; plus the Redis connection lifecycle ({@link RedisConnection}). Knows nothing of
 * namespaces, values or policies.
 */
export class CacheStore {
  readonly instanceId = randomUUID();
  readonly backend: CacheBackend;
  /** The in-process tier (in front of Redis, or the whole backend without Redis). */
  readonly memory: MemoryBackend | undefined;
  readonly connection: RedisConnection | undefined;
  private readonly bus: InvalidationBus | undefined;
  /** Memory in front of Redis, when the store is that (the backend then). */
  readonly tiered: TieredBackend | undefined;
  private readonly remote: RedisBackend | undefined;
  private hooks: CacheStoreHooks = {};
  private evicted = 0;

  constructor(
    readonly options: ResolvedCacheOptions,
    readonly space: KeySpace,
  ) {
    const onEvict = (n: number): void => {
      this.evicted += n;
    };
    const memory = options.memory ? new MemoryBackend({ ...options.memory, onEvict }) : undefined;
    if (!options.redis) {
      this.memory = memory ?? new MemoryBackend({ maxEntries: 10_000, maxBytes: 64 * 1024 * 1024, onEvict });
      this.backend = this.memory;
      return;
    }
    this.memory = memory;
    const connection = new RedisConnection(options.redis, options, memory !== undefined, {
      onChange: (up, reason) => this.hooks.onConnectionChange?.(up, reason),
      onRecovered: () => this.hooks.onRecovered?.(),
      onWarning: (topic, message) => this.hooks.onWarning?.(topic, message),
    });
    this.connection = connection;
    const remote = new RedisBackend(connection.client, space, {
      // A stored value larger than any namespace accepts is removed by the server, never transferred.
      maxReadBytes:
        Math.max(
          options.defaultNamespace.maxValueBytes,
          ...[...options.namespaces.values()].map((ns) => ns.maxValueBytes),
        ) + 64,
      // Late writes are refused by Redis itself: the deadline is in server time, corrected by the measured offset.
      notAfter: () => connection.serverNow() + options.commandTimeoutMs + LATE_WRITE_MARGIN_MS,
      // A memory tier sizes what it fills from Redis hits: the hits say what their values are made of.
      decodeHints: memory !== undefined,
    });
    this.remote = remote;
    if (!memory || !connection.subscriber) {
      this.backend = remote;
      return;
    }
    this.bus = new InvalidationBus(
      connection.client,
      connection.subscriber,
      space,
      this.instanceId,
      options.commandTimeoutMs,
      {
        onMessage: (msg) => this.hooks.onRemoteInvalidation?.(msg),
        // Messages may have been missed while unsubscribed, and none arrive until resubscribed: start over. Tag
        // generations are remembered only while invalidations reach this instance.
        onTrustChange: (trusted) => {
          memory.clear();
          remote.generations.trust(trusted);
        },
      },
    );
    const noMemory = [...options.namespaces].filter(([, ns]) => !ns.memory).map(([name]) => space.namespace(name));
    const useMemory = noMemory.length === 0 ? () => true : (key: string) => !noMemory.some((p) => key.startsWith(p));
    this.tiered = new TieredBackend(memory, remote, () => this.bus?.trusted ?? false, useMemory);
    this.backend = this.tiered;
  }

  /** Connects Redis (bounded wait; never throws) and starts the bus. */
  async connect(): Promise<void> {
    await this.connection?.connect();
    this.bus?.start();
  }

  setHooks(hooks: CacheStoreHooks): void {
    this.hooks = hooks;
  }

  /** The main Redis client (probes and gauges read INFO through it), undefined without Redis. */
  get redis(): RedisClient | undefined {
    return this.connection?.client;
  }

  get breaker(): CircuitBreaker | undefined {
    return this.connection?.breaker;
  }

  /** True when Redis is configured and connected. */
  get redisConnected(): boolean {
    return this.connection?.connected ?? false;
  }

  /** Entries the memory tier evicted for space (not expiry) since boot. */
  get evictions(): number {
    return this.evicted;
  }

  /** Entries and bytes of the in-process tier (or of the memory backend), null when there is none. */
  get memoryUsage(): { entries: number; bytes: number } | null {
    return this.memory?.usage ?? null;
  }

  /** Tells other instances what changed (keys, tags or a cleared prefix); a no-op without the bus. */
  async publish(change: Omit<InvalidationMessage, 'v' | 'p' | 'o'>): Promise<void> {
    await this.bus?.publish(change);
  }

  /**
   * Applies an invalidation to this instance's memory tier at once, whatever then happens with Redis (down,
   * breaker open): the instance must never read back the value it just invalidated.
   */
  dropLocal(change: { keys?: readonly string[]; tags?: readonly string[]; prefixes?: readonly string[] }): void {
    if (change.tags) this.remote?.generations.drop(change.tags);
    const memory = this.tiered?.memory;
    if (!memory) return;
    if (change.keys) memory.deleteSync(change.keys);
    if (change.tags) memory.invalidateTagsSync(change.tags);
    if (change.prefixes) for (const prefix of change.prefixes) memory.clearPrefixSync(prefix);
  }

  /**
   * Synchronous memory lookup for the hot path (undefined without a usable memory tier); `now` (epoch ms) saves the
   * tier a clock read when the caller has one.
   */
  readonly peek: <T>(key: string, now?: number) => CacheEntry<T> | undefined = (key, now) => this.peekImpl(key, now);

  /** The in-process tier the hot path peeks at (memory in front of Redis, or the memory backend), if any. */
  get localTier(): Pick<TieredBackend, 'peek' | 'fresh'> | undefined {
    return this.tiered ?? (this.backend instanceof MemoryBackend ? this.backend : undefined);
  }

  private peekImpl<T>(key: string, now?: number): CacheEntry<T> | undefined {
    const tier = this.localTier;
    // Resolved once: the hot path then calls the tier directly, without checks.
    const bound = tier
      ? (tier.peek.bind(tier) as <U>(k: string, now?: number) => CacheEntry<U> | undefined)
      : <U>(): CacheEntry<U> | undefined => undefined;
    (this as { peek: <U>(k: string, now?: number) => CacheEntry<U> | undefined }).peek = bound;
    return bound<T>(key, now);
  }

  async close(): Promise<void> {
    this.bus?.stop();
    await this.backend.close();
    await this.connection?.close();
  }
}
