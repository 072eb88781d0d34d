import { randomUUID } from 'node:crypto';
import { CacheError } from '../../errors/cache.error.js';
import { ErrorMessages } from '../../errors/error-messages.js';
import type { KeySpace } from '../../keys/key-space.js';
import type { LoadFence } from '../cache-backend.interface.js';
import type { RedisClient } from './redis-client.factory.js';
import { isCluster } from './redis-client.factory.js';

/** The fenced and the plain form of one guarded write (both answer 1 written, 0 refused, -1 late). */
export interface GuardedWrite {
  fenced(namespaceFence: string, tagFence: string, wantNamespace: string, wantTags: string): Promise<number>;
  plain(): Promise<number>;
}

/**
 * Load fences: the invalidations that cannot leave a tombstone on every key they cover — a prefix or namespace
 * clear (keys absent when it ran), a tag (entries not written yet) — first replace a fence (a random value), one per
 * namespace and one for all tags. A load reads both before its loader runs; its write lands only if they still hold
 * what it read. Without them, a load in another instance that read the source before a write committed could cache
 * the old value after that write's clear completed, stale until its TTL (the per-key tombstone cannot cover it).
 * Standalone and Sentinel check inside the write's script (atomic); on Cluster the fences live on other masters, so
 * the write is checked right after it lands and tombstoned if a fence moved (an old value visible one round trip).
 * @example const fence = await fences.read(key); ...; await fences.write(key, fence, tagged, { fenced, plain });
 */
export class LoadFences {
  private readonly atomic: boolean;

  constructor(
    private readonly client: RedisClient,
    private readonly space: KeySpace,
    private readonly drop: (key: string) => Promise<void>,
  ) {
    this.atomic = !isCluster(client);
  }

  /** The fences of an entry key as Redis holds them now. */
  async read(key: string): Promise<LoadFence> {
    const [namespace, tags] = await Promise.all([
      this.value(this.namespaceFence(key)),
      this.value(this.space.tagFence),
    ]);
    return [namespace, tags];
  }

  /** Runs a load's guarded write under its fence (see the class comment); `tagged`: the tags' fence counts too. */
  async write(key: string, fence: LoadFence, tagged: boolean, write: GuardedWrite): Promise<number> {
    const wantTags = tagged ? fence[1] : '*';
    if (this.atomic) return write.fenced(this.namespaceFence(key), this.space.tagFence, fence[0], wantTags);
    const result = await write.plain();
    if (result !== 1) return result;
    const now = await this.read(key);
    if (now[0] === fence[0] && (!tagged || now[1] === fence[1])) return 1;
    // A clear or a tag invalidation ran while the load did: what was just written may predate it.
    await this.drop(key);
    return 0;
  }

  /**
   * Moves a fence, then runs the clear. A full Redis (noeviction) refuses the SET: the clear frees memory, so the
   * fence is moved once it is done (a failure then fails the invalidation, which is replayed).
   */
  async around<R>(fenceKey: string, clear: () => Promise<R>): Promise<R> {
    let moved = true;
    try {
      await this.client.set(fenceKey, randomUUID());
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('OOM'))) throw err;
      moved = false;
    }
    const result = await clear();
    if (!moved) await this.client.set(fenceKey, randomUUID());
    return result;
  }

  /** The fence of the namespace of an entry key or of a key prefix inside a namespace. */
  namespaceFence(key: string): string {
    const namespace = this.space.namespaceOf(key);
    if (namespace === undefined)
      throw new CacheError(
        'E_MISUSE',
        ErrorMessages.misuse('RedisBackend', 'a key outside any namespace', 'build keys with the KeySpace'),
      );
    return this.space.fence(namespace);
  }

  /** A fence's value ('' when absent; '!' when something else holds the key: the next move replaces it). */
  private value(fenceKey: string): Promise<string> {
    return this.client.get(fenceKey).then(
      (v) => v ?? '',
      (err: unknown) => {
        if (err instanceof Error && err.message.startsWith('WRONGTYPE')) return '!';
        throw err;
      },
    );
  }
}
