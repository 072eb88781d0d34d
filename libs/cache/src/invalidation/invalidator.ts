import type { EventEmitter2 } from '@nestjs/event-emitter';
import { LogMessages } from '../errors/error-messages.js';
import { CacheEvents } from '../events/cache.events.js';
import type { CacheInvalidatedEvent } from '../events/cache.events.js';
import type { BackendGuard } from '../engine/backend-guard.js';
import type { CacheStore } from '../backends/cache-store.js';
import type { KeySpace } from '../keys/key-space.js';
import type { SingleFlight } from '../resilience/single-flight.js';
import type { ThrottledLogger } from '../resilience/throttled-logger.js';
import type { InvalidationMessage } from './invalidation-message.js';
import { RecentInvalidations } from './recent-invalidations.js';
import type { Replayer } from './replayer.js';

/** What changed: entry keys, tags, or key prefixes (all server-built). */
type Change = { keys: readonly string[] } | { tags: readonly string[] } | { prefixes: readonly string[] };

/**
 * The one invalidation sequence, used by every write and invalidation path:
 * in-flight loads marked (their results are not cached) → this instance's memory tier dropped → the change logged
 * (redone after a reconnect: a failover may lose an acknowledged DEL) → the guarded backend operation, or the replay
 * queue when it fails → bus publish (other instances drop their copies) → module event.
 * @example await invalidator.keys('user', [space.entry('user', 42)]);
 */
export class Invalidator {
  /** Invalidations sent recently, redone after every reconnect. */
  readonly recent = new RecentInvalidations();

  constructor(
    private readonly space: KeySpace,
    private readonly flights: SingleFlight,
    private readonly store: CacheStore,
    private readonly guard: BackendGuard,
    private readonly replayer: Replayer,
    private readonly logger: ThrottledLogger,
    private readonly events: EventEmitter2 | undefined,
  ) {}

  /** Removes entries (leaving tombstones, so in-flight loaders cannot re-cache older values). */
  async keys(namespace: string, keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    this.mark({ keys });
    await this.guard.run(
      namespace,
      'delete',
      () => this.store.backend.delete(keys),
      undefined,
      () => this.replayer.queueKeys(keys, this.space.namespace(namespace)),
      keys,
    );
    void this.store.publish({ keys: [...keys] });
    this.emit({ namespace, keys: [...keys], origin: 'local' });
  }

  /** Removes every entry tagged with any of `tags`; returns how many entries went. */
  async tags(tags: readonly string[]): Promise<number> {
    if (tags.length === 0) return 0;
    this.mark({ tags });
    const count = await this.guard.run(
      '_tags',
      'invalidate',
      () => this.store.backend.invalidateTags(tags),
      0,
      () => this.replayer.queueTags(tags),
    );
    void this.store.publish({ tags: [...tags] });
    this.emit({ tags: [...tags], origin: 'local' });
    return count;
  }

  /** Removes every entry under server-built key prefixes (a namespace, composed-key prefixes); returns the count. */
  async prefixes(namespace: string, prefixes: readonly string[]): Promise<number> {
    this.mark({ prefixes });
    let count = 0;
    for (const prefix of prefixes) {
      count += await this.guard.run(
        namespace,
        'clear',
        () => this.store.backend.clearPrefix(prefix),
        0,
        () => this.replayer.queuePrefix(prefix),
      );
      void this.store.publish({ clear: prefix });
    }
    this.emit({ namespace, origin: 'local' });
    return count;
  }

  /**
   * A write that replaces an entry (write-through, update in place, list writes): the same sequence with `write`
   * in place of the delete, and no module event. `write` runs the guarded operation and calls `onFail` when it
   * failed, so the entry is invalidated once Redis is back (the old value must not outlive the write).
   */
  async replace<R>(namespace: string, key: string, write: (onFail: () => void) => Promise<R>): Promise<R> {
    this.mark({ keys: [key] });
    let failed = false;
    const onFail = (): void => {
      failed = true;
      this.replayer.queueKeys([key], this.space.namespace(namespace));
    };
    const result = await write(onFail);
    // Nothing replaced (`update` and `append` are no-ops on a miss; a refused write): tombstone the key as an
    // invalidation does. Otherwise a load in another instance that read the source before this write committed, and
    // Redis before this call, would cache the old value after it (found by the coherence checker, test/coherence).
    if (!failed && (result === undefined || result === false)) {
      await this.guard.run(namespace, 'delete', () => this.store.backend.delete([key]), undefined, onFail, key);
    }
    void this.store.publish({ keys: [key] });
    return result;
  }

  /** Applies another instance's invalidation (from the bus) to this instance. */
  applyRemote(msg: InvalidationMessage): void {
    if (msg.keys) this.flights.invalidate(msg.keys);
    if (msg.tags) this.flights.invalidatePrefix('');
    if (msg.clear) this.flights.invalidatePrefix(msg.clear);
    this.store.dropLocal({
      ...(msg.keys ? { keys: msg.keys } : {}),
      ...(msg.tags ? { tags: msg.tags } : {}),
      ...(msg.clear ? { prefixes: [msg.clear] } : {}),
    });
    this.emit({
      origin: 'remote',
      ...(msg.keys ? { keys: msg.keys } : {}),
      ...(msg.tags ? { tags: msg.tags } : {}),
    });
  }

  /** The local, synchronous part: loads marked, memory tier dropped, change logged for a redo after a reconnect. */
  private mark(change: Change): void {
    if ('keys' in change) {
      this.flights.invalidate(change.keys);
      this.store.dropLocal({ keys: change.keys });
      this.recent.addKeys(change.keys);
    } else if ('tags' in change) {
      // A load in flight may carry any tag.
      this.flights.invalidatePrefix('');
      this.store.dropLocal({ tags: change.tags });
      this.recent.addTags(change.tags);
    } else {
      for (const prefix of change.prefixes) this.flights.invalidatePrefix(prefix);
      this.store.dropLocal({ prefixes: change.prefixes });
      this.recent.addPrefixes(change.prefixes);
    }
  }

  private emit(payload: CacheInvalidatedEvent): void {
    try {
      this.events?.emit(CacheEvents.invalidated, payload);
    } catch (err) {
      // A throwing listener must not break the cache operation that emitted.
      this.logger.warn(`emit:${CacheEvents.invalidated}`, LogMessages.listenerThrew(CacheEvents.invalidated, err));
    }
  }
}
