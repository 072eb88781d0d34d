/**
 * The randomized workload of the coherence checker: a seeded PRNG and the choice of every operation, shared by the
 * app workers (which run the operations) and the spec (which derives every worker's seed from the run's seed).
 * Everything random here comes from the seed, so a seed replays the same schedule of operations per client; the
 * interleaving of real processes on a real machine cannot be replayed.
 */

/** A small, fast, seedable PRNG (mulberry32). */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

/** A child seed: stable for (seed, labels), different for any other labels. */
export function deriveSeed(seed: number, ...labels: (string | number)[]): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const label of labels) {
    for (const ch of String(label)) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  }
  return h;
}

/** How a write reaches the cache after its commit. */
export const WRITE_KINDS = [
  /** `@CacheInvalidate` on the writing method. */
  'invalidate',
  /** `@CachePut`: the returned row replaces the entry. */
  'put',
  /** An event emitted after commit, `invalidateOn` on the `@Cached` method. */
  'event',
  /** `cache.update(...)` with a version compare (a newer cached row is kept). */
  'update',
  /** A soft delete in the database, then `cache.delete(...)`. */
  'delete',
  /** `cache.invalidateTags([row tag])`. */
  'tag',
  /** `cache.invalidateTags([group tag])`: every row of the group. */
  'group-tag',
  /** `cache.invalidatePrefix('row', [group])`: every row of the group. */
  'prefix',
  /** `cache.clearNamespace('row')`. */
  'clear',
] as const;
export type WriteKind = (typeof WRITE_KINDS)[number];

/** One operation of a client. */
export type Op =
  | { op: 'read'; id: number; afterReadMs: number }
  | { op: 'write'; kind: WriteKind; id: number; afterCommitMs: number }
  | { op: 'list-read'; thread: number; afterReadMs: number }
  | { op: 'append'; thread: number; afterCommitMs: number };

/** The shape of the key space and of the load. */
export interface WorkloadShape {
  /** Rows 0…hotKeys-1: raced all the time. */
  hotKeys: number;
  /** Rows hotKeys…hotKeys+coldKeys-1. */
  coldKeys: number;
  /** Rows are grouped by `id % groups` (group tags, prefix invalidation). */
  groups: number;
  /**
   * Capped lists (threads) 0…threads-1: even threads are kept by `append` after the insert, odd ones are invalidated
   * (`cache.delete`) after it — the pattern to use where the order of concurrent inserts matters.
   */
  threads: number;
  /** Fraction of operations that write. */
  writeRatio: number;
  /** Think time between two operations of a client, ms (uniform 0…thinkMs). */
  thinkMs: number;
}

/** Weights of the write kinds (a namespace clear is rare: it drops every row of every instance). */
const WRITE_WEIGHTS: Record<WriteKind, number> = {
  invalidate: 20,
  put: 14,
  event: 14,
  update: 14,
  delete: 10,
  tag: 10,
  'group-tag': 4,
  prefix: 6,
  clear: 0.3,
};
const WEIGHT_TOTAL = Object.values(WRITE_WEIGHTS).reduce((a, b) => a + b, 0);

/** A delay at a race point: mostly none, often a few ms, sometimes long enough to span a whole invalidation. */
export function raceDelay(rng: Rng): number {
  const r = rng.next();
  if (r < 0.55) return 0;
  if (r < 0.93) return rng.int(0, 15);
  return rng.int(15, 300);
}

/** The next operation of a client. */
export function nextOp(rng: Rng, shape: WorkloadShape): Op {
  const lists = rng.chance(0.12);
  if (lists) {
    const thread = rng.int(0, shape.threads - 1);
    return rng.chance(shape.writeRatio)
      ? { op: 'append', thread, afterCommitMs: raceDelay(rng) }
      : { op: 'list-read', thread, afterReadMs: raceDelay(rng) };
  }
  const id = rng.chance(0.6) ? rng.int(0, shape.hotKeys - 1) : shape.hotKeys + rng.int(0, shape.coldKeys - 1);
  if (!rng.chance(shape.writeRatio)) return { op: 'read', id, afterReadMs: raceDelay(rng) };
  let w = rng.next() * WEIGHT_TOTAL;
  let kind: WriteKind = 'invalidate';
  for (const k of WRITE_KINDS) {
    w -= WRITE_WEIGHTS[k];
    if (w < 0) {
      kind = k;
      break;
    }
  }
  return { op: 'write', kind, id, afterCommitMs: raceDelay(rng) };
}

/** How a thread's cached list follows an insert (see {@link WorkloadShape.threads}). */
export const listModeOf = (thread: number): 'append' | 'invalidate' => (thread % 2 === 0 ? 'append' : 'invalidate');

/** The group of a row. */
export const groupOf = (id: number, shape: Pick<WorkloadShape, 'groups'>): number => id % shape.groups;
