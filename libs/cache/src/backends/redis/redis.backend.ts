import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  decodeEntry,
  encodeEntry,
  encodeTombstone,
  ENTRY_MAGIC,
  entryStamps,
  stampEntry,
  tombstoneId,
} from '../../codec/entry.codec.js';
import type { TagStamp } from '../../codec/entry.codec.js';
import type { DecodeHints } from '../../codec/value.codec.js';
import type { CacheBackend, LoadFence, WriteOptions } from '../cache-backend.interface.js';
import type { LeaseBackend } from '../lease-backend.interface.js';
import type { CacheEntry, ListReadResult, ReadResult } from '../cache-entry.js';
import { liveToken, MISS, NO_TAGS, parseLiveToken, RedisHit } from '../cache-entry.js';
import { CacheError } from '../../errors/cache.error.js';
import { ErrorMessages } from '../../errors/error-messages.js';
import type { KeySpace } from '../../keys/key-space.js';
import { clearPrefix } from './prefix-clear.js';
import { RedisLists } from './redis-lists.js';
import type { RedisClient } from './redis-client.factory.js';
import { ReadSender } from './read-sender.js';
import { SocketBatcher } from './socket-batcher.js';
import type { CacheScripts } from './redis.scripts.js';
import { defineScripts } from './redis.scripts.js';
import { TagGenerations, UNINDEXED } from './tag-generations.js';
import { entryTimes, isListHeader, isOom, isWrongType, MAGIC } from './entry-bytes.js';
import { LoadFences } from './load-fence.js';

/** Options of the Redis backend. */
export interface RedisBackendOptions {
  /** How long an invalidation's tombstone guards against in-flight loaders. @default 60000 */
  tombstoneTtlMs?: number;
  /**
   * SCAN COUNT (and so UNLINK batch size) of prefix clears. Measured on 200k keys: COUNT 500 made SCANs of up to
   * 7 ms (SLOWLOG) for the same wall time as COUNT 100, whose SCANs all stayed under 0.5 ms. @default 100
   */
  scanBatch?: number;
  /** Members tombstoned per slice of a tag index's cleanup (ZPOPMIN count). @default 500 */
  tagSlice?: number;
  /**
   * Most entries a tag's index lists (the entries an invalidation tombstones; beyond, entries of an invalidated tag
   * are misses by generation until they expire or reload). Bounds the index and the cleanup's work. @default 10000
   */
  tagIndexCap?: number;
  /**
   * Largest entry a read transfers (the largest namespace maxValueBytes plus the envelope); a bigger stored value is
   * removed by the server instead of moved. @default unbounded (plain GET)
   */
  maxReadBytes?: number;
  /**
   * Whether a hit says if its value was decoded from ASCII JSON (`ReadResult.asciiJson`), for a memory tier that
   * sizes what it fills from the hit; off, a hit skips the two text scans that tell. @default false
   */
  decodeHints?: boolean;
  /**
   * The deadline, in Redis server time (epoch ms), after which a write sent now must be refused by the server.
   * @default () => Date.now() + 1500 (the store passes one corrected for the measured clock offset)
   */
  notAfter?: () => number;
}

/** The version byte of an unstamped entry (the common case: its hit needs no tag check). */
const ENTRY_VERSION = ENTRY_MAGIC.charCodeAt(1);
const CAS_ATTEMPTS = 10;
/** A tag's generation outlives the entries stamped with it by this much (their PX is set a round trip later). */
const TAG_LIFE_MARGIN_MS = 1_000;

/**
 * The Redis driver: moves envelopes as bytes. Never sends KEYS, FLUSHDB or FLUSHALL; clears scan inside the
 * prefix and UNLINK in batches on every master. Every script touches one key, so Cluster needs no hash tags.
 * Tags are generations: a tagged entry is stamped with each tag's generation when written, and is a miss once a
 * tag's generation has changed ({@link TagGenerations}), so invalidating a tag is O(1) whatever its size; a bounded
 * index per tag then lets the invalidation tombstone the entries in slices. Errors (timeouts, disconnects)
 * propagate; the facade turns them into misses.
 */
export class RedisBackend implements CacheBackend, LeaseBackend {
  readonly kind = 'redis' as const;
  readonly client: RedisClient & CacheScripts;
  private readonly tombstoneTtlMs: number;
  private readonly scanBatch: number;
  private readonly tagSlice: number;
  private readonly tagIndexCap: number;
  /** The current generation of each tag, remembered while the bus is trusted (the store says when). */
  readonly generations: TagGenerations;
  /** @internal (RedisLists) The load fences of prefix clears and tags. */
  readonly fences: LoadFences;

  constructor(
    client: RedisClient,
    private readonly space: KeySpace,
    options: RedisBackendOptions = {},
  ) {
    this.client = defineScripts(client);
    this.tombstoneTtlMs = options.tombstoneTtlMs ?? 60_000;
    this.scanBatch = options.scanBatch ?? 100;
    this.tagSlice = options.tagSlice ?? 500;
    this.tagIndexCap = options.tagIndexCap ?? 10_000;
    this.notAfter = options.notAfter ?? (() => Date.now() + 1_500);
    this.maxReadBytes = options.maxReadBytes;
    this.decoded = options.decodeHints === true ? { asciiJson: false } : undefined;
    this.reads = new ReadSender(client, options.maxReadBytes, (key, raw) => this.received(key, raw));
    this.generations = new TagGenerations(client, space);
    this.fences = new LoadFences(client, space, (key) => this.delete([key]));
    this.batcher = new SocketBatcher(client);
    this.lists = new RedisLists(this);
  }

  readonly notAfter: () => number;
  private readonly maxReadBytes: number | undefined;
  /** What the last decode of a read learnt of its value (written by each decode, read right after it). */
  private readonly decoded: DecodeHints | undefined;
  private readonly reads: ReadSender<ReadResult<unknown>>;
  private readonly batcher: SocketBatcher;
  private readonly lists: RedisLists;

  async acquireLease(leaseKey: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.client.set(leaseKey, holder, 'PX', Math.max(1, Math.round(ttlMs)), 'NX')) === 'OK';
  }

  async releaseLease(leaseKey: string, holder: string): Promise<void> {
    await this.client.tcLeaseRelease(leaseKey, holder);
  }

  async leaseHeld(leaseKey: string): Promise<boolean> {
    return (await this.client.exists(leaseKey)) === 1;
  }

  read<T>(key: string): Promise<ReadResult<T>> {
    return this.readUnchecked<T>(key).catch((err: unknown) => this.recoverRead<T>(key, err));
  }

  readUnchecked<T>(key: string): Promise<ReadResult<T>> {
    try {
      this.own(key);
    } catch (err) {
      return Promise.reject(err);
    }
    // A bounded read in one native command (a GET costs Redis far less than a script): GETRANGE moves at most
    // max + 1 bytes, so a stored value larger than any namespace accepts is never transferred whole. The reply is
    // made an answer ({@link received}) as the command settles. Alone, a read leaves at once; with others in
    // flight it joins this tick's batch (one socket write).
    this.batcher.join();
    return this.reads.send(key) as Promise<ReadResult<T>>;
  }

  recoverRead<T>(key: string, err: unknown): Promise<ReadResult<T>> {
    return isWrongType(err) ? this.wrongType(key) : Promise.reject(err);
  }

  /** What a read's bytes are: a miss, a tombstone, an entry (tagged: checked), or poison (removed). */
  private received(key: string, raw: Buffer | null): ReadResult<unknown> | Promise<ReadResult<unknown>> {
    // GETRANGE answers '' for an absent key; no entry or tombstone of ours is empty (an empty foreign string is
    // taken as absent, and a guarded write replaces it).
    if (raw === null || raw.length === 0) return MISS;
    const max = this.maxReadBytes;
    if (max !== undefined && raw.length > max) {
      // Oversized: cannot be one we wrote (or a namespace limit was lowered since): removed, not read.
      return this.discard(key);
    }
    const tomb = tombstoneId(raw);
    if (tomb !== null) return { hit: false, token: tomb };
    let entry: CacheEntry<unknown>;
    try {
      entry = decodeEntry(raw, this.decoded);
    } catch {
      return this.discard(key);
    }
    const ascii = this.decoded !== undefined && this.decoded.asciiJson;
    // Past `expiresAt` but still stored (fail-safe grace, or the few ms before PX ends): a stale hit, named by its
    // token, so a reload can replace exactly this entry. The caller decides whether it is fresh.
    if (raw[1] !== ENTRY_VERSION) return this.stamped(raw, entry, ascii);
    return new RedisHit(entry, raw.length, NO_TAGS, ascii);
  }

  /** A tagged entry: a hit while every tag is at the generation it was stamped with; otherwise a miss naming it. */
  private async stamped(raw: Buffer, entry: CacheEntry<unknown>, asciiJson: boolean): Promise<ReadResult<unknown>> {
    const stamps = entryStamps(raw);
    const current = this.generations.current(stamps);
    const tags = stamps.map((s) => s.tag);
    if (current === true || (current !== false && (await current)))
      return new RedisHit(entry, raw.length, tags, asciiJson);
    // Invalidated by a tag: a miss whose token names the entry, so the reload replaces exactly it.
    return { hit: false, token: liveToken(entry) };
  }

  async write(key: string, encoded: Buffer, ttlMs: number, options?: WriteOptions): Promise<boolean> {
    this.own(key);
    const ttl = Math.max(1, Math.round(ttlMs));
    if (options?.ifToken === undefined) {
      // A write-through replaces the value: if a full Redis refuses it, the previous value must not stay behind.
      return this.replacingOrDrop(key, async () => {
        const bytes = await this.stamp(key, encoded, options?.tags, ttlMs);
        return (await this.client.tcSetFresh(key, bytes, ttl, this.notAfter())) === 1;
      });
    }
    // Stamped before writing: an invalidation that runs in between replaces the generation, so the entry is a miss.
    const bytes = await this.stamp(key, encoded, options.tags, ttlMs);
    const live = options.ifToken === null ? undefined : parseLiveToken(options.ifToken);
    const expected = live ? entryTimes(live) : options.ifToken === null ? '' : encodeTombstone(options.ifToken);
    const mode = live ? 'live' : '';
    const plain = (): Promise<number> =>
      this.client.tcGuardedSet(key, bytes, ttl, expected, MAGIC, mode, this.notAfter());
    if (!options.fence) return (await plain()) === 1;
    const fenced = (nsKey: string, tagKey: string, wantNs: string, wantTags: string): Promise<number> =>
      this.client.tcGuardedSetFenced(
        key,
        nsKey,
        tagKey,
        wantNs,
        wantTags,
        bytes,
        ttl,
        expected,
        MAGIC,
        mode,
        this.notAfter(),
      );
    return (await this.fences.write(key, options.fence, !!options.tags?.length, { fenced, plain })) === 1;
  }

  fence(key: string): Promise<LoadFence> {
    try {
      this.own(key);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.fences.read(key);
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

  /**
   * Invalidates tags: first the tags' load fence moves (a load that read its source before now caches nothing, see
   * {@link LoadFences}), then in O(1) — each tag's generation key goes, so every entry stamped with it is a miss from
   * now on, however many there are — then the entries its index lists (at most `tagIndexCap`) are tombstoned in
   * slices of `tagSlice` (never one long command); entries beyond the cap stay stored as misses until they expire
   * or are reloaded. Returns the entries tombstoned.
   */
  async invalidateTags(tags: readonly string[]): Promise<number> {
    const unique = [...new Set(tags)];
    return this.fences.around(this.space.tagFence, async () => {
      await Promise.all(unique.map((tag) => this.client.unlink(this.space.tag(tag))));
      // Forgotten again once Redis has answered: a generation fetched while the UNLINK travelled is not trusted.
      this.generations.drop(unique);
      let count = 0;
      for (const tag of unique) count += await this.drainIndex(this.space.tagIndex(tag));
      return count;
    });
  }

  /**
   * Tombstones the members of a tag index, `tagSlice` at a time (ZPOPMIN: each slice leaves the index as it goes,
   * so a retry — the replay — resumes where a failure stopped). Until the index is empty: members added meanwhile
   * (writes racing the invalidation) may pop first, having sooner deadlines, and every member present when it
   * started must go; bounded all the same, at twice that size plus a slice, against writers that never stop.
   */
  private async drainIndex(indexKey: string): Promise<number> {
    let left = 2 * (await this.client.zcard(indexKey)) + this.tagSlice;
    let count = 0;
    while (left > 0) {
      const popped = await this.client.zpopmin(indexKey, Math.min(left, this.tagSlice));
      if (popped.length === 0) break;
      const members: string[] = [];
      const scores: string[] = [];
      for (let i = 0; i + 1 < popped.length; i += 2) {
        // Only members under the prefix: a forged member can never make us touch a foreign key.
        const member = popped[i];
        if (!this.space.owns(member)) continue;
        members.push(member);
        scores.push(popped[i + 1] ?? '0');
      }
      try {
        await this.delete(members);
      } catch (err) {
        // Put the slice back, so the replay of this tag still finds it.
        const back = members.flatMap((m, i) => [scores[i]!, m]);
        if (back.length > 0) await this.client.zadd(indexKey, ...back).catch(() => undefined);
        throw err;
      }
      count += members.length;
      left -= popped.length / 2;
    }
    return count;
  }

  async clearPrefix(keyPrefix: string): Promise<number> {
    this.own(keyPrefix);
    // Every prefix the library clears lies inside one namespace (whose loads read its fence); a bare prefix has none.
    const namespace = this.space.namespaceOf(keyPrefix);
    const clear = (): Promise<number> => clearPrefix(this.client, keyPrefix, this.scanBatch);
    return namespace === undefined ? clear() : this.fences.around(this.space.fence(namespace), clear);
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
      let stamps: TagStamp[];
      try {
        entry = decodeEntry(raw) as CacheEntry<T>;
        stamps = entryStamps(raw);
      } catch {
        await this.client.unlink(key);
        return undefined;
      }
      // An entry invalidated by a tag is absent for an update too.
      if (stamps.length > 0 && !(await this.generations.current(stamps))) return undefined;
      const next = fn(entry.value);
      if (next === undefined) {
        await this.delete([key]);
        return undefined;
      }
      // The entry keeps its tags, at the generations it was stamped with.
      const encoded = stampEntry(encodeEntry({ ...entry, value: next }), stamps);
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

  readList<T>(key: string): Promise<ListReadResult<T>> {
    return this.lists.read<T>(key);
  }

  writeList(
    key: string,
    items: readonly unknown[],
    maxLength: number,
    ttlMs: number,
    options?: WriteOptions,
  ): Promise<boolean> {
    return this.lists.write(key, items, maxLength, ttlMs, options);
  }

  append(key: string, items: readonly unknown[], maxLength: number, ttlMs: number): Promise<boolean> {
    return this.lists.append(key, items, maxLength, ttlMs);
  }

  async close(): Promise<void> {
    // The connection belongs to the module, which closes it; only the timer holder is ours.
    this.reads.close();
  }

  /**
   * Runs a write that replaces what `key` holds. When a full Redis (noeviction) refuses it, UNLINKs the key — UNLINK is
   * allowed under OOM — so the value it was meant to replace is not served any more, then rethrows (counted refused).
   */
  /** @internal (RedisLists) */
  async replacingOrDrop<R>(key: string, write: () => Promise<R>): Promise<R> {
    try {
      return await write();
    } catch (err) {
      if (isOom(err)) await this.client.unlink(key).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Stamps an encoded entry with the current generation of each of its tags and lists it in each tag's index: two
   * single-key scripts per tag, all in parallel (each key may live on another Cluster master), so one round trip.
   * Each tag's generation and index live past the entry, so a generation never expires before an entry stamped
   * with it.
   */
  /** @internal (RedisLists) */
  async stamp(key: string, encoded: Buffer, tags: readonly string[] | undefined, ttlMs: number): Promise<Buffer> {
    if (!tags?.length) return encoded;
    const unique = [...new Set(tags)];
    const ttl = Math.max(1, Math.round(ttlMs)) + TAG_LIFE_MARGIN_MS;
    const now = Date.now();
    const gens = this.generations;
    const epoch = gens.now;
    const [current, indexed] = await Promise.all([
      Promise.all(
        unique.map(async (tag) => {
          const gen = await this.client.tcTagStamp(this.space.tag(tag), gens.candidate(), ttl);
          gens.learn(tag, gen, epoch);
          return gen;
        }),
      ),
      Promise.all(
        unique.map((tag) =>
          this.client.tcTagIndex(this.space.tagIndex(tag), key, now + ttlMs, now, ttl, this.tagIndexCap),
        ),
      ),
    ]);
    // An entry a full index could not list is marked: readers then always check its generations with Redis.
    return stampEntry(
      encoded,
      unique.map((tag, i) => ({ tag, gen: indexed[i] === 1 ? current[i]! : UNINDEXED + current[i]! })),
    );
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
  /** @internal (RedisLists) */
  own(key: string): void {
    if (!this.space.owns(key))
      throw new CacheError(
        'E_MISUSE',
        ErrorMessages.misuse('RedisBackend', 'a key outside the prefix', 'build keys with the KeySpace'),
      );
  }

  /** Removes an entry that cannot be ours to read (poisoned, wrong type) and reports a corrupt miss. */
  /** @internal (RedisLists) */
  async discard(key: string): Promise<{ hit: false; token: null; corrupt: true }> {
    await this.client.unlink(key);
    return { hit: false, token: null, corrupt: true };
  }
}
