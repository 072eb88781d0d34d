import { decodeEntry, encodeEntry, encodeTombstone, entryStamps, tombstoneId } from '../../codec/entry.codec.js';
import { decodeValue, encodeValue } from '../../codec/value.codec.js';
import { CacheError } from '../../errors/cache.error.js';
import { ErrorMessages } from '../../errors/error-messages.js';
import type { WriteOptions } from '../cache-backend.interface.js';
import type { ListReadResult } from '../cache-entry.js';
import { MISS } from '../cache-entry.js';
import type { RedisBackend } from './redis.backend.js';
import { isEntry, MAGIC } from './entry-bytes.js';

/**
 * Capped lists in Redis (message histories): a Redis list whose first item is our header (an envelope of `null`,
 * stamped with the list's tags), then one encoded value per item. Read, replaced and appended by single-key scripts.
 * @example await lists.append('bot:messages:=n7', [message], 200, 3_600_000);
 */
export class RedisLists {
  constructor(private readonly backend: RedisBackend) {}

  async read<T>(key: string): Promise<ListReadResult<T>> {
    this.backend.own(key);
    const reply = await this.backend.client.tcListReadBuffer(key);
    const [kind, ...rest] = reply;
    if (kind === 1) {
      const [header, ...items] = rest[0] as Buffer[];
      try {
        // Only a list that starts with our header is ours (a foreign or older-schema list is discarded).
        if (header === undefined) return this.backend.discard(key);
        const meta = decodeEntry(header);
        if (meta.value !== null) return this.backend.discard(key);
        const stamps = entryStamps(header);
        if (stamps.length > 0 && !(await this.backend.generations.current(stamps))) {
          // Invalidated by a tag: removed, so that the reload (guarded on an absent key) can write it again.
          await this.backend.client.unlink(key);
          return MISS;
        }
        return { hit: true, items: items.map((b) => decodeValue(b) as T) };
      } catch {
        return this.backend.discard(key);
      }
    }
    const value = rest[0];
    if (Buffer.isBuffer(value)) {
      const tomb = tombstoneId(value);
      if (tomb !== null) return { hit: false, token: tomb };
      // One of our value entries, read as a list: the caller's mistake; the entry stays.
      if (isEntry(value)) throw new CacheError('E_KIND_MISMATCH', ErrorMessages.kindMismatch('value'));
      return this.backend.discard(key);
    }
    return kind === 0 ? MISS : this.backend.discard(key);
  }

  async write(
    key: string,
    items: readonly unknown[],
    maxLength: number,
    ttlMs: number,
    options?: WriteOptions,
  ): Promise<boolean> {
    this.backend.own(key);
    const now = Date.now();
    const header = await this.backend.stamp(
      key,
      encodeEntry({ value: null, createdAt: now, expiresAt: now + ttlMs }),
      options?.tags,
      ttlMs,
    );
    const encoded = items.slice(-maxLength).map((item) => encodeValue(item));
    const guard =
      options?.ifToken === undefined ? '*' : options.ifToken === null ? '' : encodeTombstone(options.ifToken);
    const ttl = Math.max(1, Math.round(ttlMs));
    const plain = (): Promise<number> =>
      this.backend.client.tcListWrite(key, ttl, guard, MAGIC, this.backend.notAfter(), header, ...encoded);
    if (guard === '*') return this.backend.replacingOrDrop(key, async () => (await plain()) === 1);
    if (!options?.fence) return (await plain()) === 1;
    const fenced = (nsKey: string, tagKey: string, wantNs: string, wantTags: string): Promise<number> =>
      this.backend.client.tcListWriteFenced(
        key,
        nsKey,
        tagKey,
        wantNs,
        wantTags,
        ttl,
        guard,
        MAGIC,
        this.backend.notAfter(),
        header,
        ...encoded,
      );
    return (await this.backend.fences.write(key, options.fence, !!options.tags?.length, { fenced, plain })) === 1;
  }

  async append(key: string, items: readonly unknown[], maxLength: number, ttlMs: number): Promise<boolean> {
    this.backend.own(key);
    if (items.length === 0) return true;
    const encoded = items.map((item) => encodeValue(item));
    // A refused append would leave the cached list without the new items: drop it (the next read reloads it).
    return this.backend.replacingOrDrop(
      key,
      async () =>
        (await this.backend.client.tcListAppend(
          key,
          maxLength,
          Math.max(1, Math.round(ttlMs)),
          this.backend.notAfter(),
          ...encoded,
        )) === 1,
    );
  }
}
