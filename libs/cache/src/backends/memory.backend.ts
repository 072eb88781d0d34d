import { LRUCache } from 'lru-cache';
import type { CacheBackend, WriteOptions } from './cache-backend.interface.js';
import type { CacheEntry, ListReadResult, ReadResult } from './cache-entry.js';
import { MISS } from './cache-entry.js';

interface Slot {
  entry: CacheEntry;
  size: number;
  tags: readonly string[] | undefined;
}

/** Options of the memory backend (resolved: numbers only). */
export interface MemoryBackendOptions {
  maxEntries: number;
  maxBytes: number;
  /** Cap on an entry's life here, whatever its TTL (used when Redis is the source of truth). */
  maxTtlMs?: number | undefined;
  /** Called with the number of entries evicted for space (not expiry). */
  onEvict?: (count: number) => void;
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

  constructor(private readonly options: MemoryBackendOptions) {
    this.lru = new LRUCache<string, Slot>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      sizeCalculation: (slot) => Math.max(1, slot.size),
      ttlAutopurge: false,
      allowStale: false,
      dispose: (slot, key, reason) => {
        this.unindex(key, slot.tags);
        if (reason === 'evict') options.onEvict?.(1);
      },
    });
  }

  /** Synchronous lookup for the hot path; undefined on a miss or an expired entry. */
  peek<T>(key: string): CacheEntry<T> | undefined {
    const slot = this.lru.get(key);
    if (slot === undefined) return undefined;
    if (slot.entry.expiresAt <= Date.now()) {
      this.lru.delete(key);
      return undefined;
    }
    return slot.entry as CacheEntry<T>;
  }

  /** Number of entries and bytes held now. */
  get usage(): { entries: number; bytes: number } {
    return { entries: this.lru.size, bytes: this.lru.calculatedSize };
  }

  async read<T>(key: string): Promise<ReadResult<T>> {
    const entry = this.peek<T>(key);
    return entry === undefined ? MISS : { hit: true, entry };
  }

  async write(key: string, entry: CacheEntry, encoded: Buffer, ttlMs: number, options?: WriteOptions): Promise<boolean> {
    this.put(key, entry, encoded.length, ttlMs, options?.tags);
    return true;
  }

  /** Stores an entry (also used by the tiered backend to fill this tier after a remote hit). */
  put(key: string, entry: CacheEntry, size: number, ttlMs: number, tags?: readonly string[]): void {
    const ttl = Math.max(1, Math.min(ttlMs, this.options.maxTtlMs ?? ttlMs));
    if (size > this.options.maxBytes) return;
    this.lru.set(key, { entry, size, tags }, { ttl });
    if (tags) {
      for (const tag of tags) {
        let keys = this.tagIndex.get(tag);
        if (!keys) this.tagIndex.set(tag, (keys = new Set()));
        keys.add(key);
      }
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    this.deleteSync(keys);
  }

  deleteSync(keys: readonly string[]): void {
    for (const key of keys) this.lru.delete(key);
  }

  async invalidateTags(prefix: string, tags: readonly string[]): Promise<number> {
    return this.invalidateTagsSync(prefix, tags);
  }

  invalidateTagsSync(_prefix: string, tags: readonly string[]): number {
    let count = 0;
    for (const tag of tags) {
      const keys = this.tagIndex.get(tag);
      if (!keys) continue;
      for (const key of [...keys]) if (this.lru.delete(key)) count++;
      this.tagIndex.delete(tag);
    }
    return count;
  }

  async clearPrefix(keyPrefix: string): Promise<number> {
    return this.clearPrefixSync(keyPrefix);
  }

  clearPrefixSync(keyPrefix: string): number {
    let count = 0;
    for (const key of [...this.lru.keys()]) {
      if (key.startsWith(keyPrefix) && this.lru.delete(key)) count++;
    }
    return count;
  }

  /** Drops everything this tier holds (it never holds anything outside the module's prefix). */
  clear(): void {
    this.lru.clear();
    this.tagIndex.clear();
  }

  async update<T>(key: string, fn: (current: T) => T | undefined): Promise<T | undefined> {
    const slot = this.lru.get(key);
    if (slot === undefined || slot.entry.expiresAt <= Date.now()) return undefined;
    const next = fn(slot.entry.value as T);
    if (next === undefined) {
      this.lru.delete(key);
      return undefined;
    }
    const remaining = Math.max(1, this.lru.getRemainingTTL(key));
    this.lru.set(key, { ...slot, entry: { ...slot.entry, value: next } }, { ttl: remaining });
    return next;
  }

  async readList<T>(key: string): Promise<ListReadResult<T>> {
    const entry = this.peek<T[]>(key);
    return entry === undefined ? MISS : { hit: true, items: entry.value };
  }

  async writeList(key: string, items: readonly unknown[], maxLength: number, ttlMs: number, options?: WriteOptions): Promise<boolean> {
    const kept = items.slice(-maxLength);
    const now = Date.now();
    this.put(key, { value: kept, createdAt: now, expiresAt: now + ttlMs }, estimateSize(kept), ttlMs, options?.tags);
    return true;
  }

  async append(key: string, items: readonly unknown[], maxLength: number, ttlMs: number): Promise<boolean> {
    const slot = this.lru.get(key);
    if (slot === undefined || !Array.isArray(slot.entry.value)) return false;
    // A new array, never a push: readers holding the previous array keep a consistent snapshot.
    const next = [...(slot.entry.value as unknown[]), ...items].slice(-maxLength);
    const now = Date.now();
    this.put(key, { value: next, createdAt: slot.entry.createdAt, expiresAt: now + ttlMs }, estimateSize(next), ttlMs, slot.tags);
    return true;
  }

  async close(): Promise<void> {
    this.clear();
  }

  private unindex(key: string, tags: readonly string[] | undefined): void {
    if (!tags) return;
    for (const tag of tags) {
      const keys = this.tagIndex.get(tag);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) this.tagIndex.delete(tag);
    }
  }
}

function estimateSize(items: readonly unknown[]): number {
  // Lists are sized roughly (64 B per item) rather than re-encoded on every append.
  return 64 + items.length * 64;
}
