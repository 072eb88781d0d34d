import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import type { Redis } from 'ioredis';
import {
  decodeEntry,
  encodeEntry,
  encodeTombstone,
  ENTRY_LAYOUT,
  ENTRY_MAGIC,
  tombstoneId,
  TOMBSTONE_MAGIC,
} from '../../codec/entry.codec.js';
import { decodeValue, encodeValue } from '../../codec/value.codec.js';
import type { CacheBackend, WriteOptions } from '../cache-backend.interface.js';
import type { LeaseBackend } from '../lease-backend.interface.js';
import type { CacheEntry, ListReadResult, ReadResult } from '../cache-entry.js';
import { MISS, parseLiveToken } from '../cache-entry.js';
import { CacheError } from '../../errors/cache.error.js';
import { ErrorMessages } from '../../errors/error-messages.js';
import type { KeySpace } from '../../keys/key-space.js';
import type { RedisClient } from './redis-client.factory.js';
import type { CacheScripts } from './redis.scripts.js';
import { defineScripts } from './redis.scripts.js';

/** Options of the Redis backend. */
export interface RedisBackendOptions {
  /** How long an invalidation's tombstone guards against in-flight loaders. @default 60000 */
  tombstoneTtlMs?: number;
  /** SCAN COUNT and UNLINK batch size for prefix clears. @default 500 */
  scanBatch?: number;
  /**
   * Largest entry a read transfers (the largest namespace maxValueBytes plus the envelope); a bigger stored value is
   * removed by the server instead of moved. @default unbounded (plain GET)
   */
  maxReadBytes?: number;
  /**
   * The deadline, in Redis server time (epoch ms), after which a write sent now must be refused by the server.
   * @default () => Date.now() + 1500 (the store passes one corrected for the measured clock offset)
   */
  notAfter?: () => number;
}

const MAGIC = Buffer.from(TOMBSTONE_MAGIC, 'latin1');
const CAS_ATTEMPTS = 10;

/**
 * The Redis driver: moves envelopes as bytes. Never sends KEYS, FLUSHDB or FLUSHALL; clears scan inside the
 * prefix and UNLINK in batches on every master. Every script touches one key, so Cluster needs no hash tags.
 * Errors (timeouts, disconnects) propagate; the facade turns them into misses.
 */
export class RedisBackend implements CacheBackend, LeaseBackend {
  readonly kind = 'redis' as const;
  private readonly client: RedisClient & CacheScripts;
  private readonly tombstoneTtlMs: number;
  private readonly scanBatch: number;

  constructor(
    client: RedisClient,
    private readonly space: KeySpace,
    options: RedisBackendOptions = {},
  ) {
    this.client = defineScripts(client);
    this.tombstoneTtlMs = options.tombstoneTtlMs ?? 60_000;
    this.scanBatch = options.scanBatch ?? 500;
    this.notAfter = options.notAfter ?? (() => Date.now() + 1_500);
    this.maxReadBytes = options.maxReadBytes;
  }

  private readonly notAfter: () => number;
  private readonly maxReadBytes: number | undefined;
  private corked = false;

  async acquireLease(leaseKey: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.client.set(leaseKey, holder, 'PX', Math.max(1, Math.round(ttlMs)), 'NX')) === 'OK';
  }

  async releaseLease(leaseKey: string, holder: string): Promise<void> {
    await this.client.tcLeaseRelease(leaseKey, holder);
  }

  async leaseHeld(leaseKey: string): Promise<boolean> {
    return (await this.client.exists(leaseKey)) === 1;
  }

  async read<T>(key: string): Promise<ReadResult<T>> {
    this.own(key);
    let raw: Buffer | null;
    const max = this.maxReadBytes;
    try {
      // A bounded read in one native command (a GET costs Redis far less than a script): GETRANGE moves at most
      // max + 1 bytes, so a stored value larger than any namespace accepts is never transferred whole.
      this.batchWrites();
      raw = max === undefined ? await this.client.getBuffer(key) : await this.client.getrangeBuffer(key, 0, max);
    } catch (err) {
      if (isWrongType(err)) return this.wrongType(key);
      throw err;
    }
    // GETRANGE answers '' for an absent key; no entry or tombstone of ours is empty (an empty foreign string is
    // taken as absent, and a guarded write replaces it).
    if (raw === null || raw.length === 0) return MISS;
    if (max !== undefined && raw.length > max) {
      // Oversized: cannot be one we wrote (or a namespace limit was lowered since): removed, not read.
      await this.client.unlink(key);
      return { hit: false, token: null, corrupt: true };
    }
    const tomb = tombstoneId(raw);
    if (tomb !== null) return { hit: false, token: tomb };
    let entry: CacheEntry<T>;
    try {
      entry = decodeEntry(raw) as CacheEntry<T>;
    } catch {
      return this.discard(key);
    }
    // Past `expiresAt` but still stored (fail-safe grace, or the few ms before PX ends): a stale hit, named by its
    // token, so a reload can replace exactly this entry. The caller decides whether it is fresh.
    return { hit: true, entry, size: raw.length };
  }

  async write(key: string, encoded: Buffer, ttlMs: number, options?: WriteOptions): Promise<boolean> {
    this.own(key);
    const ttl = Math.max(1, Math.round(ttlMs));
    if (options?.ifToken === undefined) {
      // A write-through replaces the value: if a full Redis refuses it, the previous value must not stay behind.
      return this.replacingOrDrop(key, async () => {
        if (options?.tags?.length) await this.indexTags(key, options.tags, ttlMs);
        const written = (await this.client.tcSetFresh(key, encoded, ttl, this.notAfter())) === 1;
        // Indexed again after the SET: a tag invalidation that took the set in between tombstoned the key, which
        // this SET then replaced — without the second SADD the new value would sit outside its tags.
        if (written && options?.tags?.length) await this.indexTags(key, options.tags, ttlMs);
        return written;
      });
    }
    // Index before writing: an invalidation that runs in between then tombstones the key and the guarded SET skips.
    if (options.tags?.length) await this.indexTags(key, options.tags, ttlMs);
    const live = options.ifToken === null ? undefined : parseLiveToken(options.ifToken);
    if (live)
      return (
        (await this.client.tcGuardedSet(key, encoded, ttl, entryHeader(live), MAGIC, 'live', this.notAfter())) === 1
      );
    const expected = options.ifToken === null ? '' : encodeTombstone(options.ifToken);
    return (await this.client.tcGuardedSet(key, encoded, ttl, expected, MAGIC, '', this.notAfter())) === 1;
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    for (const key of keys) this.own(key);
    const tomb = encodeTombstone(randomUUID());
    try {
      await Promise.all(keys.map((key) => this.client.set(key, tomb, 'PX', this.tombstoneTtlMs)));
    } catch (err) {
      // A full Redis (noeviction) refuses the tombstone SET but still takes UNLINK: invalidation must work anyway.
      if (!isOom(err)) throw err;
      await Promise.all(keys.map((key) => this.client.unlink(key)));
    }
  }

  async invalidateTags(tags: readonly string[]): Promise<number> {
    let count = 0;
    for (const tag of tags) {
      const key = this.space.tag(tag);
      const members = await this.client.tcTagTake(key);
      // Only members under the prefix: a forged member can never make us touch a foreign key.
      const own = members.filter((m) => this.space.owns(m));
      try {
        await this.delete(own);
      } catch (err) {
        // The set is already taken: put the members back so the replay of this tag still finds them.
        if (own.length > 0) await this.client.sadd(key, ...own).catch(() => undefined);
        throw err;
      }
      count += own.length;
    }
    return count;
  }

  async clearPrefix(keyPrefix: string): Promise<number> {
    this.own(keyPrefix);
    const match = `${escapeGlob(keyPrefix)}*`;
    const nodes: Redis[] = this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
    const counts = await Promise.all(nodes.map((node) => this.clearOnNode(node, match)));
    return counts.reduce((a, b) => a + b, 0);
  }

  async update<T>(key: string, fn: (current: T) => T | undefined): Promise<T | undefined> {
    this.own(key);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      let raw: Buffer | null;
      try {
        raw = await this.client.getBuffer(key);
      } catch (err) {
        if (!isWrongType(err)) throw err;
        await this.wrongType(key);
        return undefined;
      }
      if (raw === null || tombstoneId(raw) !== null) return undefined;
      let entry: CacheEntry<T>;
      try {
        entry = decodeEntry(raw) as CacheEntry<T>;
      } catch {
        await this.client.unlink(key);
        return undefined;
      }
      const next = fn(entry.value);
      if (next === undefined) {
        await this.delete([key]);
        return undefined;
      }
      const encoded = encodeEntry({ ...entry, value: next });
      const result = await this.replacingOrDrop(key, () =>
        this.client.tcCompareAndSet(key, raw, encoded, this.notAfter()),
      );
      if (result === 1) return next;
      if (result === -1) break;
      // Contention: back off a little (with jitter) before reading again.
      await sleep(1 + Math.floor(Math.random() * 2 * (attempt + 1)));
    }
    // Persistent contention: dropping the entry is always safe; the next read reloads from the source.
    await this.delete([key]);
    return undefined;
  }

  async readList<T>(key: string): Promise<ListReadResult<T>> {
    this.own(key);
    const reply = await this.client.tcListReadBuffer(key);
    const [kind, ...rest] = reply;
    if (kind === 1) {
      const [header, ...items] = rest[0] as Buffer[];
      try {
        // Only a list that starts with our header is ours (a foreign or older-schema list is discarded).
        if (header === undefined) return this.discard(key);
        const meta = decodeEntry(header);
        if (meta.value !== null) return this.discard(key);
        return { hit: true, items: items.map((b) => decodeValue(b) as T) };
      } catch {
        return this.discard(key);
      }
    }
    const value = rest[0];
    if (Buffer.isBuffer(value)) {
      const tomb = tombstoneId(value);
      if (tomb !== null) return { hit: false, token: tomb };
      // One of our value entries, read as a list: the caller's mistake; the entry stays.
      if (isEntry(value)) throw new CacheError('E_KIND_MISMATCH', ErrorMessages.kindMismatch('value'));
      return this.discard(key);
    }
    return kind === 0 ? MISS : this.discard(key);
  }

  async writeList(
    key: string,
    items: readonly unknown[],
    maxLength: number,
    ttlMs: number,
    options?: WriteOptions,
  ): Promise<boolean> {
    this.own(key);
    if (options?.tags?.length) await this.indexTags(key, options.tags, ttlMs);
    const now = Date.now();
    const header = encodeEntry({ value: null, createdAt: now, expiresAt: now + ttlMs });
    const encoded = items.slice(-maxLength).map((item) => encodeValue(item));
    const guard =
      options?.ifToken === undefined ? '*' : options.ifToken === null ? '' : encodeTombstone(options.ifToken);
    const write = async (): Promise<boolean> =>
      (await this.client.tcListWrite(
        key,
        Math.max(1, Math.round(ttlMs)),
        guard,
        MAGIC,
        this.notAfter(),
        header,
        ...encoded,
      )) === 1;
    return guard === '*' ? this.replacingOrDrop(key, write) : write();
  }

  async append(key: string, items: readonly unknown[], maxLength: number, ttlMs: number): Promise<boolean> {
    this.own(key);
    if (items.length === 0) return true;
    const encoded = items.map((item) => encodeValue(item));
    // A refused append would leave the cached list without the new items: drop it (the next read reloads it).
    return this.replacingOrDrop(
      key,
      async () =>
        (await this.client.tcListAppend(
          key,
          maxLength,
          Math.max(1, Math.round(ttlMs)),
          this.notAfter(),
          ...encoded,
        )) === 1,
    );
  }

  async close(): Promise<void> {
    // The connection belongs to the module, which closes it; nothing is held here.
  }

  /**
   * Runs a write that replaces what `key` holds. When a full Redis (noeviction) refuses it, UNLINKs the key — UNLINK is
   * allowed under OOM — so the value it was meant to replace is not served any more, then rethrows (counted refused).
   */
  private async replacingOrDrop<R>(key: string, write: () => Promise<R>): Promise<R> {
    try {
      return await write();
    } catch (err) {
      if (isOom(err)) await this.client.unlink(key).catch(() => undefined);
      throw err;
    }
  }

  private async indexTags(key: string, tags: readonly string[], ttlMs: number): Promise<void> {
    const ttl = Math.max(1, Math.round(ttlMs)) + this.tombstoneTtlMs;
    await Promise.all(tags.map((tag) => this.client.tcTagAdd(this.space.tag(tag), key, ttl)));
  }

  /**
   * Reads issued in the same tick leave in one socket write (cork now, uncork on the next tick): many concurrent
   * callers cost one syscall instead of one each, as a pipeline would, without a pipeline's bookkeeping; a lone read
   * waits one tick at most. Standalone and Sentinel connections only (a Cluster spreads commands over many sockets).
   */
  private batchWrites(): void {
    if (this.corked) return;
    const stream = this.stream;
    if (stream === undefined || stream.writableCorked > 0) return;
    stream.cork();
    this.corked = true;
    process.nextTick(() => {
      this.corked = false;
      stream.uncork();
    });
  }

  private get stream(): Writable | undefined {
    if (this.client instanceof Cluster) return undefined;
    const stream = (this.client as { stream?: unknown }).stream;
    return stream instanceof Writable ? stream : undefined;
  }

  /**
   * A key of ours holding another Redis type: one of our lists (read as a value: the caller's mistake, it stays —
   * `E_KIND_MISMATCH`), or anything else (poison: removed, a corrupt miss).
   */
  private async wrongType(key: string): Promise<{ hit: false; token: null; corrupt: true }> {
    const [type, head] = await Promise.all([this.client.type(key), this.client.lindexBuffer(key, 0).catch(() => null)]);
    if (type === 'list' && head !== null && isListHeader(head))
      throw new CacheError('E_KIND_MISMATCH', ErrorMessages.kindMismatch('list'));
    return this.discard(key);
  }

  /** Every key this backend sends lies inside the prefix (built by the KeySpace); anything else is a bug, refused. */
  private own(key: string): void {
    if (!this.space.owns(key))
      throw new CacheError(
        'E_MISUSE',
        ErrorMessages.misuse('RedisBackend', 'a key outside the prefix', 'build keys with the KeySpace'),
      );
  }

  /** Removes an entry that cannot be ours to read (poisoned, wrong type) and reports a corrupt miss. */
  private async discard(key: string): Promise<{ hit: false; token: null; corrupt: true }> {
    await this.client.unlink(key);
    return { hit: false, token: null, corrupt: true };
  }

  private async clearOnNode(node: Redis, match: string): Promise<number> {
    let cursor = '0';
    let count = 0;
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', this.scanBatch);
      cursor = next;
      if (keys.length > 0) {
        // One key per UNLINK: keys from one scan may sit in different slots (Cluster forbids cross-slot commands).
        const pipeline = node.pipeline();
        for (const key of keys) pipeline.unlink(key);
        const results = (await pipeline.exec()) ?? [];
        for (const [err, removed] of results) if (!err) count += Number(removed);
      }
    } while (cursor !== '0');
    return count;
  }
}

/** The first bytes of the envelope of an entry with these times (what a live token names). */
function entryHeader(times: { createdAt: number; expiresAt: number }): Buffer {
  const header = Buffer.alloc(ENTRY_LAYOUT.valueLength);
  header.write(ENTRY_MAGIC, 0, 'latin1');
  header.writeDoubleBE(times.createdAt, ENTRY_LAYOUT.createdAt);
  header.writeDoubleBE(times.expiresAt, ENTRY_LAYOUT.expiresAt);
  return header;
}

/** Whether bytes are one of our value envelopes (not a tombstone, not garbage). */
function isEntry(raw: Buffer): boolean {
  try {
    decodeEntry(raw);
    return true;
  } catch {
    return false;
  }
}

/** Whether the first item of a list is our list header (an envelope of `null`). */
function isListHeader(raw: Buffer): boolean {
  try {
    return decodeEntry(raw).value === null;
  } catch {
    return false;
  }
}

/** Escapes Redis glob metacharacters so a server-built prefix matches only itself. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\^-]/g, (c) => `\\${c}`);
}

/** Redis refused a write because maxmemory is reached under noeviction (scripts' errors start the same way). */
function isOom(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('OOM');
}

function isWrongType(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('WRONGTYPE');
}
