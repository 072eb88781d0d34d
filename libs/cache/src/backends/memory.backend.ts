import { Logger } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import type { CacheBackend, WriteOptions } from './cache-backend.interface.js';
import type { CacheEntry, ListReadResult, Miss, ReadResult } from './cache-entry.js';
import { liveToken, MISS, StoredEntry } from './cache-entry.js';
import { decodeEntry } from '../codec/entry.codec.js';
import type { DecodeHints } from '../codec/value.codec.js';
import { ENTRY_OVERHEAD_BYTES, estimateHeapBytes, jsonHeapBound } from '../codec/heap-size.js';
import { CacheError } from '../errors/cache.error.js';
import type { FillTicket } from './fill-tickets.js';
import { FillTickets } from './fill-tickets.js';
import type { CountedSlot } from './tier-bytes.js';
import { TierBytes } from './tier-bytes.js';
import { ErrorMessages, LogMessages } from '../errors/error-messages.js';

/** A stored entry; made by `new`, never a literal (see `StoredEntry`: V8 pretenures literal allocation sites). */
class Slot implements CountedSlot {
  constructor(
    readonly entry: CacheEntry,
    public size: number,
    readonly tags: readonly string[] | undefined,
    /** When the slot stops being served (epoch ms): its TTL plus grace, capped by `maxTtl`. */
    readonly deadline: number,
    /** A capped list (setList/append): read only through readList. */
    readonly list: true | undefined,
    /**
     * For an entry filled from another tier, whose tags this tier does not know: the tag epoch it was filled in (any
     * tag invalidation since drops it); -1 when its tags are known.
     */
    readonly blind: number,
    public pending: number,
  ) {}
}

/** Options of the memory backend (resolved: numbers only). */
export interface MemoryBackendOptions {
  maxEntries: number;
  maxBytes: number;
  /** Cap on an entry's life here, whatever its TTL (used when Redis is the source of truth). */
  maxTtlMs?: number | undefined;
  /** Called with the number of entries evicted for space (not expiry). */
  onEvict?: (count: number) => void;
  /** How long a deletion's tombstone makes guarded writes of in-flight loaders skip. @default 60000 */
  tombstoneTtlMs?: number;
}

/**
 * The in-process backend on lru-cache, bounded by entries and bytes, with per-entry TTL. Stores decoded entries, so
 * a hit costs a map lookup and never a parse; values are shared between callers and must be treated as read-only.
 * @example new MemoryBackend({ maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 })
 */
export class MemoryBackend implements CacheBackend {
  readonly kind = 'memory' as const;
  private readonly lru: LRUCache<string, Slot>;
  private readonly tagIndex = new Map<string, Set<string>>();
  /** Keys deleted recently → tombstone id: the state a miss reports, so a guarded write can tell it changed. */
  private readonly tombstones: LRUCache<string, string>;
  private tombstoneSeq = 0;
  /** Counts tag invalidations: an entry whose tags are unknown here is dead once this passes its fill's epoch. */
  private tagEpoch = 0;
  /** Fills in flight (numbered; see {@link FillTickets}). */
  private readonly tickets = new FillTickets();
  /** What entries may hold: maxBytes less the index. */
  private readonly maxValueBytes: number;
  /** What the last decode learnt of its value (written by each decode, read right after it). */
  private readonly decoded: DecodeHints = { asciiJson: false };
  /** Bytes the entries count for (exact, or bounds for values not walked yet): see {@link store}. */
  private readonly bytes: TierBytes;

  constructor(private readonly options: MemoryBackendOptions) {
    // The LRU index costs memory per slot whether used or not (key/value lists, links, TTL arrays — twice: entries
    // and tombstones): it comes out of maxBytes, so the bound holds for the whole tier.
    const index = indexBytes(options.maxEntries);
    if (index > options.maxBytes / 2) {
      new Logger('MemoryBackend').warn(LogMessages.memoryIndexLarge(options.maxEntries, index, options.maxBytes));
    }
    this.maxValueBytes = Math.max(1, options.maxBytes - index);
    this.bytes = new TierBytes(options.maxEntries);
    this.tombstones = new LRUCache<string, string>({
      max: options.maxEntries,
      ttl: options.tombstoneTtlMs ?? 60_000,
      ttlAutopurge: false,
    });
    this.lru = new LRUCache<string, Slot>({
      max: options.maxEntries,
      // Deadlines are checked here (Slot.deadline), not by lru-cache: a hit then costs a map lookup and one
      // comparison, and the index needs no TTL arrays. Bytes are counted here too (store, makeRoom).
      dispose: (slot, key, reason) => {
        this.bytes.removed(slot);
        this.unindex(key, slot.tags);
        if (reason === 'evict') options.onEvict?.(1);
      },
    });
  }

  /**
   * Synchronous lookup for the hot path; undefined once the entry's stored TTL is over. The entry may be past its
   * `expiresAt` (kept for fail-safe grace): callers check freshness.
   */
  peek<T>(key: string, now?: number): CacheEntry<T> | undefined {
    const slot = this.live(key, now);
    return slot === undefined || slot.list ? undefined : (slot.entry as CacheEntry<T>);
  }

  /**
   * The entry of `key` while it is fresh (`expiresAt` not reached): a memory hit's lookup, with one clock read, and
   * none for a key not held. Otherwise null when {@link peek} would find nothing either (no entry, or a list), and
   * undefined when it would (an entry past `expiresAt`, kept for grace).
   */
  fresh<T>(key: string): CacheEntry<T> | null | undefined {
    const slot = this.lru.get(key);
    if (slot === undefined || slot.list) return null;
    const now = Date.now();
    if (slot.deadline <= now || (slot.blind >= 0 && slot.blind < this.tagEpoch)) {
      this.lru.delete(key);
      return null;
    }
    return slot.entry.expiresAt > now ? (slot.entry as CacheEntry<T>) : undefined;
  }

  /**
   * The slot of `key` while its deadline has not passed and no tag invalidation dropped it (a dead slot is removed on
   * the way); the clock is read only for a key held, and not at all when the caller passes `now`.
   */
  private live(key: string, now?: number): Slot | undefined {
    const slot = this.lru.get(key);
    if (slot === undefined) return undefined;
    if (slot.deadline > (now ?? Date.now()) && (slot.blind < 0 || slot.blind >= this.tagEpoch)) return slot;
    this.lru.delete(key);
    return undefined;
  }

  /** Number of entries and bytes held now (entries' estimated memory plus the LRU index). */
  get usage(): { entries: number; bytes: number } {
    this.bytes.walk();
    return { entries: this.lru.size, bytes: this.bytes.total + indexBytes(this.options.maxEntries) };
  }

  async read<T>(key: string): Promise<ReadResult<T>> {
    const slot = this.live(key);
    if (slot === undefined) return this.miss(key);
    if (slot.list) throw new CacheError('E_KIND_MISMATCH', ErrorMessages.kindMismatch('list'));
    const entry = slot.entry as CacheEntry<T>;
    return { hit: true, entry };
  }

  async write(key: string, encoded: Buffer, ttlMs: number, options?: WriteOptions): Promise<boolean> {
    if (!this.guardHolds(key, options?.ifToken)) return false;
    // The one decode of a write: a snapshot, so later changes to the caller's object cannot reach the cache.
    const entry = decodeEntry(encoded, this.decoded);
    return this.put(key, entry, ttlMs, options?.tags, undefined, this.decoded.asciiJson ? encoded.length : 0);
  }

  /** {@link fill} from the bytes just written to another tier (decoded once, here). */
  fillEncoded(ticket: FillTicket, encoded: Buffer, ttlMs: number, tags: readonly string[] | undefined): void {
    if (this.tickets.isStale(ticket)) {
      this.fill(ticket, undefined, ttlMs, tags);
      return;
    }
    const entry = decodeEntry(encoded, this.decoded);
    this.fillAt(ticket, entry, this.deadline(ttlMs, Date.now()), tags, this.decoded.asciiJson ? encoded.length : 0);
  }

  /**
   * Stores an entry, sized by what it really holds in this process (heap estimate of the decoded value plus the
   * entry's own overhead), so `maxBytes` bounds real memory; false when it is larger than the whole tier (then no
   * older value of the key is left). `jsonBytes`: the value was decoded from ASCII JSON held in that many bytes
   * (0: it was not, or it is not known), which bounds its size: see {@link store}.
   */
  put(key: string, entry: CacheEntry, ttlMs: number, tags?: readonly string[], list?: true, jsonBytes = 0): boolean {
    // A fill in flight read the key before this write: it must not overwrite it.
    this.tickets.staleKey(key);
    return this.store(key, entry, this.deadline(ttlMs, Date.now()), tags, list, -1, jsonBytes);
  }

  /** When an entry stored now for `ttlMs` stops being served here: at least 1 ms on, at most `maxTtl`. */
  private deadline(ttlMs: number, now: number): number {
    return now + Math.max(1, Math.min(ttlMs, this.options.maxTtlMs ?? ttlMs));
  }

  /**
   * {@link put} without marking the key's fills in flight (a fill: it holds what another tier held just now). A value
   * decoded from ASCII JSON is counted at its bound ({@link jsonHeapBound}) while that fits in what is free, and
   * walked for its exact size only when the bytes held must be exact: room to make, or {@link usage} read. So a
   * tier below its byte bound does not walk what it holds, and `maxBytes` holds all the same.
   */
  private store(
    key: string,
    entry: CacheEntry,
    deadline: number,
    tags: readonly string[] | undefined,
    list: true | undefined,
    blind: number,
    jsonBytes: number,
  ): boolean {
    const fixed = ENTRY_OVERHEAD_BYTES + key.length * 2;
    const bound = jsonBytes > 0 ? jsonHeapBound(jsonBytes) : 0;
    const pending = bound > 0 && this.bytes.total + fixed + bound <= this.maxValueBytes ? bound : 0;
    const size = fixed + (pending > 0 ? pending : estimateHeapBytes(entry.value, jsonBytes > 0));
    if (this.tombstones.size > 0) this.tombstones.delete(key);
    if (size > this.maxValueBytes) {
      this.lru.delete(key);
      return false;
    }
    if (pending === 0) this.makeRoom(key, size);
    const slot = new Slot(entry, size, tags, deadline, list, blind, pending);
    this.bytes.added(slot);
    this.lru.set(key, slot);
    this.index(key, tags);
    return true;
  }

  /**
   * Evicts the least recently used entries until `size` more bytes fit (the key's own entry, which the new one
   * replaces, counts as free), after walking the values counted at their bound: that may be all that is over.
   */
  private makeRoom(key: string, size: number): void {
    if (this.bytes.total + size <= this.maxValueBytes) return;
    this.bytes.walk();
    while (this.lru.size > 0 && this.bytes.total - (this.lru.peek(key)?.size ?? 0) + size > this.maxValueBytes) {
      this.lru.pop();
    }
  }

  /**
   * Starts a read of another tier for `key` (the tiered backend's fill after a remote hit); pass the ticket to
   * {@link fill} or {@link release}. An invalidation of the key in between makes the fill a no-op.
   */
  watch(key: string): FillTicket {
    return this.tickets.open(key);
  }

  /**
   * Stores an entry that another tier answered unless the key was invalidated or written since {@link watch}.
   * `tags: 'unknown'` (an entry from a tier that does not report its tags) makes any tag invalidation drop it.
   */
  fill(
    ticket: FillTicket,
    entry: CacheEntry | undefined,
    ttlMs: number,
    tags: readonly string[] | 'unknown' | undefined,
    now?: number,
  ): void {
    this.fillAt(ticket, entry, entry === undefined ? 0 : this.deadline(ttlMs, now ?? Date.now()), tags, 0);
  }

  /**
   * {@link fill} of an entry another tier serves until its `expiresAt`: served here until then too (no sooner than
   * 1 ms from now; no later than `maxTtl` from now), with no clock read unless `maxTtl` is set. `jsonBytes`: as
   * {@link put}.
   */
  fillUntilExpiry(
    ticket: FillTicket,
    entry: CacheEntry,
    tags: readonly string[] | 'unknown' | undefined,
    jsonBytes = 0,
  ): void {
    // Without a cap the deadline is the entry's own (an entry already past it is dropped when next looked up).
    if (this.options.maxTtlMs === undefined) {
      this.fillAt(ticket, entry, entry.expiresAt, tags, jsonBytes);
      return;
    }
    const now = Date.now();
    this.fillAt(ticket, entry, this.deadline(entry.expiresAt - now, now), tags, jsonBytes);
  }

  private fillAt(
    ticket: FillTicket,
    entry: CacheEntry | undefined,
    deadline: number,
    tags: readonly string[] | 'unknown' | undefined,
    jsonBytes: number,
  ): void {
    if (this.tickets.close(ticket) || entry === undefined) {
      // The key changed while the other tier answered: which value is newer is unknown, so keep neither.
      this.lru.delete(ticket.key);
      return;
    }
    if (tags === 'unknown') this.store(ticket.key, entry, deadline, undefined, undefined, this.tagEpoch, jsonBytes);
    else this.store(ticket.key, entry, deadline, tags, undefined, -1, jsonBytes);
  }

  /** Ends a {@link watch} without storing anything. */
  release(ticket: FillTicket): void {
    this.tickets.close(ticket);
  }

  async delete(keys: readonly string[]): Promise<void> {
    this.deleteSync(keys);
    this.tombstone(keys);
  }

  deleteSync(keys: readonly string[]): void {
    for (const key of keys) this.lru.delete(key);
    if (this.tickets.size > 0) for (const key of keys) this.tickets.staleKey(key);
  }

  async invalidateTags(tags: readonly string[]): Promise<number> {
    const keys = this.takeTagged(tags);
    this.tombstone(keys);
    return keys.length;
  }

  invalidateTagsSync(tags: readonly string[]): number {
    return this.takeTagged(tags).length;
  }

  async clearPrefix(keyPrefix: string): Promise<number> {
    return this.clearPrefixSync(keyPrefix);
  }

  clearPrefixSync(keyPrefix: string): number {
    let count = 0;
    for (const key of [...this.lru.keys()]) {
      if (key.startsWith(keyPrefix) && this.lru.delete(key)) count++;
    }
    this.tickets.staleAll();
    return count;
  }

  /** Drops everything this tier holds (it never holds anything outside the module's prefix). */
  clear(): void {
    this.lru.clear();
    this.bytes.clear();
    this.tagIndex.clear();
    this.tombstones.clear();
    this.tickets.staleAll();
  }

  async update<T>(key: string, fn: (current: T) => T | undefined): Promise<T | undefined> {
    const slot = this.live(key);
    if (slot === undefined || slot.entry.expiresAt <= Date.now()) return undefined;
    if (slot.list) throw new CacheError('E_KIND_MISMATCH', ErrorMessages.kindMismatch('list'));
    const next = fn(slot.entry.value as T);
    if (next === undefined) {
      await this.delete([key]);
      return undefined;
    }

    // Replacing a value disposes the old slot, which unindexes its tags: store indexes them again.
    this.store(
      key,
      new StoredEntry(next, slot.entry.createdAt, slot.entry.expiresAt),
      slot.deadline,
      slot.tags,
      slot.list,
      slot.blind,
      0,
    );
    return next;
  }

  async readList<T>(key: string): Promise<ListReadResult<T>> {
    const slot = this.live(key);
    if (slot === undefined) return this.miss(key);
    if (!slot.list) throw new CacheError('E_KIND_MISMATCH', ErrorMessages.kindMismatch('value'));
    return { hit: true, items: slot.entry.value as T[] };
  }

  async writeList(
    key: string,
    items: readonly unknown[],
    maxLength: number,
    ttlMs: number,
    options?: WriteOptions,
  ): Promise<boolean> {
    if (!this.guardHolds(key, options?.ifToken)) return false;
    const kept = items.slice(-maxLength);
    const now = Date.now();
    return this.put(key, new StoredEntry(kept, now, now + ttlMs), ttlMs, options?.tags, true);
  }

  async append(key: string, items: readonly unknown[], maxLength: number, ttlMs: number): Promise<boolean> {
    const slot = this.live(key);
    if (slot === undefined || !slot.list) return false;
    // A new array, never a push: readers holding the previous array keep a consistent snapshot.
    const next = [...(slot.entry.value as unknown[]), ...items].slice(-maxLength);
    const now = Date.now();
    this.put(key, new StoredEntry(next, slot.entry.createdAt, now + ttlMs), ttlMs, slot.tags, true);
    return true;
  }

  async close(): Promise<void> {
    this.clear();
  }

  /** The state of an absent key: its tombstone if it was deleted recently. */
  private miss(key: string): Miss {
    const token = this.tombstones.get(key);
    return token === undefined ? MISS : { hit: false, token };
  }

  /** A guarded write holds only if the key is still in the state the read saw (as the Redis script checks). */
  private guardHolds(key: string, ifToken: string | null | undefined): boolean {
    if (ifToken === undefined) return true;
    const entry = this.peek(key);
    if (entry !== undefined) return ifToken === liveToken(entry);
    return (this.tombstones.get(key) ?? null) === ifToken;
  }

  private tombstone(keys: readonly string[]): void {
    for (const key of keys) this.tombstones.set(key, `m${++this.tombstoneSeq}`);
  }

  /** Removes the entries of these tags, and every entry whose tags are unknown here; returns the keys removed. */
  private takeTagged(tags: readonly string[]): string[] {
    const removed: string[] = [];
    for (const tag of tags) {
      const keys = this.tagIndex.get(tag);
      if (!keys) continue;
      for (const key of [...keys]) if (this.lru.delete(key)) removed.push(key);
      this.tagIndex.delete(tag);
    }
    // Every entry whose tags are unknown here is dead from now on (dropped when next looked up, or evicted).
    this.tagEpoch++;
    // A fill in flight may carry any tag.
    this.tickets.staleAll();
    return removed;
  }

  // Indexed loops: an iterator over an untagged entry's empty list would be one allocation per fill and per eviction.
  private index(key: string, tags: readonly string[] | undefined): void {
    if (tags === undefined) return;
    for (let i = 0; i < tags.length; i++) {
      const tag = tags[i]!;
      let keys = this.tagIndex.get(tag);
      if (!keys) this.tagIndex.set(tag, (keys = new Set()));
      keys.add(key);
    }
  }

  private unindex(key: string, tags: readonly string[] | undefined): void {
    if (tags === undefined) return;
    for (let i = 0; i < tags.length; i++) {
      const tag = tags[i]!;
      const keys = this.tagIndex.get(tag);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) this.tagIndex.delete(tag);
    }
  }
}

/** Bytes the two LRU indexes (entries, tombstones) take for `maxEntries` slots: ~40 B per slot each. */
function indexBytes(maxEntries: number): number {
  return maxEntries * 80;
}
