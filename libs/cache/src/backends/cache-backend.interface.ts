import type { ListReadResult, ReadResult } from './cache-entry.js';

/** Options of a backend write. */
export interface WriteOptions {
  /** Tags to index the key under (full tag keys are the backend's business). */
  tags?: readonly string[];
  /**
   * Guarded write: only write if the key is still in the state a read returned (`ReadResult.token`).
   * Absent → unconditional write (write-through).
   */
  ifToken?: string | null;
  /**
   * With `ifToken`: the fence read before the load ({@link CacheBackend.fence}); the write happens only if no prefix
   * clear of the key's namespace (nor, for a tagged write, any tag invalidation) ran since.
   */
  fence?: LoadFence;
}

/**
 * What a load saw of the invalidations that cannot tombstone absent keys (prefix and namespace clears, tags), read
 * before its loader ran: the namespace's fence and the tags' fence ('' when absent).
 */
export type LoadFence = readonly [namespace: string, tags: string];

/** The fence of a backend that needs none (nothing shared to fence against). */
export const NO_FENCE: LoadFence = ['', ''];

/**
 * The contract every backend honours (memory, Redis, tiered); one contract suite runs against each.
 * Keys are full keys (`<prefix>:<namespace>:<key>`), built by the KeySpace, never by a caller. Backends never throw for a missing key;
 * they do throw on I/O failure (the facade turns that into a miss and a count).
 */
export interface CacheBackend {
  readonly kind: 'memory' | 'redis' | 'tiered';
  read<T = unknown>(key: string): Promise<ReadResult<T>>;
  /**
   * Optional, for the engine's hit path (one promise reaction per hit instead of one per layer): {@link read} but
   * for the answers some failures stand for, which a rejection leaves to {@link recoverRead}.
   * `read(key)` is `readUnchecked(key).catch((err) => recoverRead(key, err))`.
   */
  readUnchecked?<T = unknown>(key: string): Promise<ReadResult<T>>;
  /** With {@link readUnchecked}: the answer a failure of it stands for (e.g. a key of another type), or `err` again. */
  recoverRead?<T = unknown>(key: string, err: unknown): Promise<ReadResult<T>>;
  /**
   * The fence a load of `key` reads before running its loader (shared backends only: one process's own loads are
   * fenced in-process); pass it to the guarded write with `ifToken`.
   */
  fence?(key: string): Promise<LoadFence>;
  /**
   * Stores an encoded entry (the envelope bytes: the only form a write carries; a memory tier decodes it once into
   * its own snapshot). Returns false when a guard skipped it.
   */
  write(key: string, encoded: Buffer, ttlMs: number, options?: WriteOptions): Promise<boolean>;
  /** Removes keys and leaves a short-lived tombstone so in-flight loaders cannot re-cache older values. */
  delete(keys: readonly string[]): Promise<void>;
  /** Removes every key indexed under any of the tags; returns how many keys went. */
  invalidateTags(tags: readonly string[]): Promise<number>;
  /** Removes every key starting with `keyPrefix` (built by the server, never user input); returns how many went. */
  clearPrefix(keyPrefix: string): Promise<number>;
  /**
   * Atomically replaces the value with `fn(current)` if the key exists; `undefined` from `fn` deletes it.
   * Returns the new value, or undefined if the key was absent (nothing is created).
   */
  update<T>(key: string, fn: (current: T) => T | undefined): Promise<T | undefined>;
  /** Reads a capped list written by writeList/append. */
  readList<T = unknown>(key: string): Promise<ListReadResult<T>>;
  /** Replaces a whole list (e.g. after loading it from the source), keeping the last `maxLength` items. */
  writeList(
    key: string,
    items: readonly unknown[],
    maxLength: number,
    ttlMs: number,
    options?: WriteOptions,
  ): Promise<boolean>;
  /** Atomically appends to a list that is cached, keeping the last `maxLength`; does nothing if the list is not cached. */
  append(key: string, items: readonly unknown[], maxLength: number, ttlMs: number): Promise<boolean>;
  close(): Promise<void>;
}
