/** What a backend stores for one key: the value plus the times the tiers and (later) fail-safe need. */
export interface CacheEntry<T = unknown> {
  value: T;
  /** When the value was produced, epoch ms. */
  createdAt: number;
  /** When the value stops being fresh, epoch ms. */
  expiresAt: number;
}

/**
 * An entry made in this process (decoded, or built by the memory tier). Made by `new`, never an object literal, as
 * are {@link RedisHit} and the memory tier's slots: V8 pretenures a literal's allocation site (allocates its objects
 * straight in the old generation) once it saw them live long, and an old object, dead or alive, keeps the young
 * objects it points to alive through the next scavenge. A pretenured entry or hit answer made every Redis hit's value
 * survive a scavenge (~1 MB promoted per scavenge; bench/README.md, "Why `cache.bench.ts` put the c=1 hit lower").
 */
export class StoredEntry<T = unknown> implements CacheEntry<T> {
  constructor(
    public value: T,
    public createdAt: number,
    public expiresAt: number,
  ) {}
}

/**
 * The answer of a read. On a miss, `token` is the state the key was in (null: absent; otherwise an opaque
 * tombstone id left by an invalidation). A loader passes it back to a guarded write, which is skipped if the key
 * was invalidated or written since the read — so a slow loader never re-caches a value older than an invalidation.
 */
export type ReadResult<T = unknown> =
  | {
      hit: true;
      entry: CacheEntry<T>;
      tier?: 'memory' | 'redis';
      size?: number;
      /** The entry's tags, when the backend knows them (Redis stamps them into the entry). */
      tags?: readonly string[];
      /** The value was decoded from ASCII JSON (`DecodeHints`): the memory tier sizes it with a quicker walk. */
      asciiJson?: boolean;
    }
  | Miss;

/** A hit read from Redis (a class: see {@link StoredEntry}). */
export class RedisHit<T = unknown> {
  readonly hit = true;
  readonly tier = 'redis';

  constructor(
    readonly entry: CacheEntry<T>,
    readonly size: number,
    readonly tags: readonly string[],
    readonly asciiJson: boolean,
  ) {}
}

/** A miss; `corrupt` when the stored bytes could not be decoded (the backend has already removed them). */
export interface Miss {
  hit: false;
  token: string | null;
  corrupt?: boolean;
}

/** The answer of a list read. */
export type ListReadResult<T = unknown> = { hit: true; items: T[] } | Miss;

export const MISS: Miss = Object.freeze({ hit: false, token: null });

/** The tags of an untagged entry (shared, never mutated). */
export const NO_TAGS: readonly string[] = Object.freeze([]);

const LIVE_TOKEN = /^live:(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?):(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/;

/**
 * The guard token naming a stored entry by its envelope times: a guarded write with it lands only if the key still
 * holds that very entry (fresh or stale in grace), so a refresh never overwrites a newer value or an invalidation.
 * @example liveToken({ createdAt: 1, expiresAt: 2 }) // 'live:1:2'
 */
export function liveToken(entry: Pick<CacheEntry, 'createdAt' | 'expiresAt'>): string {
  return `live:${entry.createdAt}:${entry.expiresAt}`;
}

/** The times a {@link liveToken} names, or undefined when `token` is not one (then it is a tombstone id). */
export function parseLiveToken(token: string): { createdAt: number; expiresAt: number } | undefined {
  const match = LIVE_TOKEN.exec(token);
  if (!match?.[1] || !match[2]) return undefined;
  return { createdAt: Number(match[1]), expiresAt: Number(match[2]) };
}
