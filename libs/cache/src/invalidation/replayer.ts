import { LogMessages } from '../errors/error-messages.js';
import type { CacheBackend } from '../backends/cache-backend.interface.js';
import type { CacheTelemetry } from '../observability/cache-telemetry.js';
import type { ThrottledLogger } from '../resilience/throttled-logger.js';
import type { InvalidationMessage } from './invalidation-message.js';
import type { RecentChanges } from './recent-invalidations.js';
import { ReplayQueue } from './replay-queue.js';

/** What the replayer needs of the store. */
export interface ReplayTarget {
  readonly backend: CacheBackend;
  /** True when Redis is configured (without it nothing is ever queued). */
  readonly hasRedis: boolean;
  readonly redisConnected: boolean;
  publish(change: Omit<InvalidationMessage, 'v' | 'p' | 'o'>): Promise<void>;
}

/**
 * Owns everything about invalidations that could not reach Redis: the bounded queue, the replay in progress, its
 * retry, and whether reads must bypass Redis meanwhile ({@link recovering}). Queued entries are redone (then
 * published) when the connection is ready again or the breaker closes.
 * @example replayer.queueKeys(['bot:user:=n42'], 'bot:user:'); await replayer.replay();
 */
export class Replayer {
  private readonly queue: ReplayQueue;
  private replaying = false;
  /** Invalidations taken from the queue by the replay in progress (still pending until it succeeds). */
  private inFlight = 0;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly target: ReplayTarget,
    private readonly root: string,
    maxItems: number,
    private readonly retryMs: number,
    private readonly telemetry: CacheTelemetry,
    private readonly logger: ThrottledLogger,
  ) {
    this.queue = new ReplayQueue(maxItems);
  }

  /**
   * True while invalidations missed during an outage are being redone — or are still queued while Redis is
   * reachable (a replay failed and waits for its retry): reads bypass Redis meanwhile, since it may still hold what
   * those invalidations remove.
   */
  get recovering(): boolean {
    return this.replaying || (this.queue.size > 0 && this.target.redisConnected);
  }

  /** Invalidations waiting (queued, or taken by the replay in progress). */
  get pending(): number {
    return this.queue.size + this.inFlight;
  }

  /** Invalidations that did not fit the queue since boot (widened into namespace or prefix clears). */
  get dropped(): number {
    return this.queue.dropped;
  }

  /** Queues entry keys; `namespacePrefix` is what gets cleared if the queue is full. */
  queueKeys(keys: readonly string[], namespacePrefix: string): void {
    if (this.target.hasRedis) this.queue.addKeys(keys, namespacePrefix);
  }

  queueTags(tags: readonly string[]): void {
    if (this.target.hasRedis) this.queue.addTags(tags, this.root.slice(0, -1));
  }

  queuePrefix(prefix: string): void {
    if (this.target.hasRedis) this.queue.addPrefix(prefix);
  }

  /** A reconnect may be a failover to a replica that missed acknowledged invalidations: redo the recent ones. */
  redo(recent: RecentChanges): void {
    for (const p of recent.prefixes) this.queuePrefix(p);
    this.queueKeys(recent.keys, this.root);
    this.queueTags(recent.tags);
    void this.replay();
  }

  /** Called by a read that found the queue non-empty while Redis is reachable: make sure a replay will run. */
  nudge(): void {
    if (!this.replaying) this.schedule();
  }

  /** Redoes the invalidations that could not reach Redis; re-queues what still fails. */
  async replay(): Promise<void> {
    if (this.replaying || this.queue.size === 0) return;
    this.replaying = true;
    try {
      const pending = this.queue.drain();
      this.inFlight = pending.keys.length + pending.tags.length + pending.prefixes.length;
      const backend = this.target.backend;
      try {
        for (const p of pending.prefixes) await backend.clearPrefix(p);
        if (pending.keys.length) await backend.delete(pending.keys);
        if (pending.tags.length) await backend.invalidateTags(pending.tags);
      } catch (err) {
        for (const p of pending.prefixes) this.queuePrefix(p);
        this.queueKeys(pending.keys, this.root);
        this.queueTags(pending.tags);
        this.logger.warn('replay', LogMessages.replayFailed((err as Error).message));
        // Redis may be up (the replay only timed out): nothing else may trigger a retry, so schedule one.
        this.schedule();
        return;
      }
      for (const p of pending.prefixes) await this.target.publish({ clear: p });
      if (pending.keys.length) await this.target.publish({ keys: pending.keys });
      if (pending.tags.length) await this.target.publish({ tags: pending.tags });
      this.telemetry.count('_replay', this.target.backend.kind === 'memory' ? 'memory' : 'redis', 'invalidate', 'ok');
    } finally {
      this.inFlight = 0;
      this.replaying = false;
    }
    // Invalidations queued while this replay ran (e.g. the recent ones a reconnect adds) get their own pass.
    if (this.queue.size > 0 && !this.retry) await this.replay();
  }

  close(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
  }

  /** Retries the replay after the breaker's probe interval, if Redis is connected then (a reconnect replays anyway). */
  private schedule(): void {
    if (this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (this.target.redisConnected) void this.replay();
    }, this.retryMs);
    this.retry.unref();
  }
}
