import type { CacheBackend, LoadFence, WriteOptions } from './cache-backend.interface.js';
import { NO_FENCE } from './cache-backend.interface.js';
import type { CacheEntry, ListReadResult, ReadResult } from './cache-entry.js';
import type { LeaseBackend } from './lease-backend.interface.js';
import { isLeaseBackend } from './lease-backend.interface.js';
import type { FillTicket } from './fill-tickets.js';
import type { MemoryBackend } from './memory.backend.js';

/**
 * Memory in front of Redis: reads memory → Redis (filling memory on a Redis hit); writes go to Redis, then memory;
 * invalidations clear memory first, then Redis. The memory tier is used only while `trusted()` says the
 * cross-instance bus is live; otherwise it is bypassed (and was flushed), so a missed message never serves stale data.
 */
export class TieredBackend implements CacheBackend, LeaseBackend {
  readonly kind = 'tiered' as const;

  constructor(
    readonly memory: MemoryBackend,
    readonly remote: CacheBackend,
    private readonly trusted: () => boolean,
    /** Whether a key's namespace uses the memory tier (`namespaces.x.memory`). */
    private readonly useMemory: (key: string) => boolean = () => true,
  ) {}

  async acquireLease(leaseKey: string, holder: string, ttlMs: number): Promise<boolean> {
    return isLeaseBackend(this.remote) ? this.remote.acquireLease(leaseKey, holder, ttlMs) : true;
  }

  async releaseLease(leaseKey: string, holder: string): Promise<void> {
    if (isLeaseBackend(this.remote)) await this.remote.releaseLease(leaseKey, holder);
  }

  async leaseHeld(leaseKey: string): Promise<boolean> {
    return isLeaseBackend(this.remote) ? this.remote.leaseHeld(leaseKey) : false;
  }

  /** Synchronous memory-tier lookup for the hot path (`now`: the caller's clock read, if it has one). */
  peek<T>(key: string, now?: number): CacheEntry<T> | undefined {
    return this.trusted() && this.useMemory(key) ? this.memory.peek<T>(key, now) : undefined;
  }

  /**
   * The fresh entry of `key` in the memory tier, if it is used and holds one (a memory hit's lookup); otherwise null
   * when {@link peek} would find nothing either, undefined when it would (an entry kept for grace).
   */
  fresh<T>(key: string): CacheEntry<T> | null | undefined {
    return this.trusted() && this.useMemory(key) ? this.memory.fresh<T>(key) : null;
  }

  read<T>(key: string): Promise<ReadResult<T>> {
    return this.readUnchecked<T>(key).catch((err: unknown) => this.recoverRead<T>(key, err));
  }

  readUnchecked<T>(key: string): Promise<ReadResult<T>> {
    const local = this.peek<T>(key);
    if (local !== undefined) return Promise.resolve({ hit: true, entry: local, tier: 'memory' });
    return this.readPastMemory<T>(key);
  }

  /** {@link readUnchecked} once the memory tier was looked up and found not to hold `key`: Redis, then a fill. */
  readPastMemory<T>(key: string): Promise<ReadResult<T>> {
    // Watched: an invalidation (local, or from the bus) while Redis answers must not let the old value in.
    const ticket = this.memory.watch(key);
    let reading: Promise<ReadResult<T>>;
    try {
      reading = this.readRemote<T>(key);
    } catch (err) {
      this.memory.release(ticket);
      return Promise.reject(err);
    }
    return reading.then(
      (result) => this.settleRemote(key, ticket, result),
      (err: unknown) => {
        this.memory.release(ticket);
        throw err;
      },
    );
  }

  // readPastMemory in steps, for a caller whose own continuation takes the last one (no reaction of its own):
  // `memory.watch(key)`, then readRemote, then settleRemote with the answer (or `memory.release` on a failure).

  /** Sends the read of `key` to the remote tier (no memory lookup, no fill). */
  readRemote<T>(key: string): Promise<ReadResult<T>> {
    const remote = this.remote;
    return remote.readUnchecked ? remote.readUnchecked<T>(key) : remote.read<T>(key);
  }

  /**
   * Ends the fill watched by `ticket` with what the remote tier answered, and returns that answer (labelled as the
   * remote tier's). Never throws: a value this tier fails to hold is left out of it, and the hit is still served.
   */
  settleRemote<T>(key: string, ticket: FillTicket, result: ReadResult<T>): ReadResult<T> {
    if (result.hit && this.trusted() && this.useMemory(key)) {
      try {
        // Tags the remote tier does not report are 'unknown': any tag invalidation then drops this copy. The bytes
        // read bound an ASCII JSON value's size.
        const jsonBytes = result.asciiJson === true ? (result.size ?? 0) : 0;
        this.memory.fillUntilExpiry(ticket, result.entry, result.tags ?? 'unknown', jsonBytes);
      } catch {
        this.memory.release(ticket);
        this.memory.deleteSync([key]);
      }
    } else {
      this.memory.release(ticket);
    }
    return !result.hit || result.tier === 'redis' ? result : { ...result, tier: 'redis' };
  }

  /** What a failed remote read stands for (nothing of it is filled into memory). */
  recoverRead<T>(key: string, err: unknown): Promise<ReadResult<T>> {
    return this.remote.recoverRead ? this.remote.recoverRead<T>(key, err) : Promise.reject(err);
  }

  fence(key: string): Promise<LoadFence> {
    return this.remote.fence ? this.remote.fence(key) : Promise.resolve(NO_FENCE);
  }

  async write(key: string, encoded: Buffer, ttlMs: number, options?: WriteOptions): Promise<boolean> {
    const ticket = this.memory.watch(key);
    let written: boolean;
    try {
      written = await this.remote.write(key, encoded, ttlMs, options);
    } catch (err) {
      this.memory.release(ticket);
      // The write may or may not have landed: whatever this tier holds for the key can no longer be trusted.
      this.memory.deleteSync([key]);
      throw err;
    }
    // A snapshot decoded from the bytes: later mutation of the caller's object cannot change the cached value.
    if (written && this.trusted() && this.useMemory(key))
      this.memory.fillEncoded(ticket, encoded, ttlMs, options?.tags);
    else this.memory.release(ticket);
    return written;
  }

  // Invalidations clear memory before Redis and again once Redis is done: a read that reached Redis while the
  // invalidation was under way (e.g. the replay after an outage, over several round trips) may have filled this
  // tier with the old value since — and this instance ignores its own bus message, so nothing else would drop it.

  async delete(keys: readonly string[]): Promise<void> {
    this.memory.deleteSync(keys);
    try {
      await this.remote.delete(keys);
    } finally {
      this.memory.deleteSync(keys);
    }
  }

  async invalidateTags(tags: readonly string[]): Promise<number> {
    this.memory.invalidateTagsSync(tags);
    try {
      return await this.remote.invalidateTags(tags);
    } finally {
      this.memory.invalidateTagsSync(tags);
    }
  }

  async clearPrefix(keyPrefix: string): Promise<number> {
    this.memory.clearPrefixSync(keyPrefix);
    try {
      return await this.remote.clearPrefix(keyPrefix);
    } finally {
      this.memory.clearPrefixSync(keyPrefix);
    }
  }

  async update<T>(key: string, fn: (current: T) => T | undefined): Promise<T | undefined> {
    this.memory.deleteSync([key]);
    return this.remote.update(key, fn);
  }

  async readList<T>(key: string): Promise<ListReadResult<T>> {
    return this.remote.readList<T>(key);
  }

  async writeList(
    key: string,
    items: readonly unknown[],
    maxLength: number,
    ttlMs: number,
    options?: WriteOptions,
  ): Promise<boolean> {
    return this.remote.writeList(key, items, maxLength, ttlMs, options);
  }

  async append(key: string, items: readonly unknown[], maxLength: number, ttlMs: number): Promise<boolean> {
    return this.remote.append(key, items, maxLength, ttlMs);
  }

  async close(): Promise<void> {
    this.memory.clear();
    await this.remote.close();
  }
}
