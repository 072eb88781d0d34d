/**
 * The offset of this process's monotonic clock from the system clock. `performance.timeOrigin` is sampled once at
 * startup and was measured several ms off between processes of a loaded machine (the long run saw reads "from the
 * future"), so the offset is measured here: the largest of many `Date.now() - performance.now()` samples (Date.now
 * floors to the millisecond, a descheduled sample only comes out lower), within ~1 ms of the system clock.
 */
function clockOffset(): number {
  let best = -Infinity;
  for (let i = 0; i < 2_000; i++) best = Math.max(best, Date.now() - performance.now());
  return best;
}
const OFFSET = clockOffset();

/** One clock for every process on the machine: epoch milliseconds with sub-millisecond resolution. */
export const now = (): number => OFFSET + performance.now();

/** Where a read was served from; see {@link OpRecord.tier}. */
export type Tier = 'm' | 'f' | 'r';

/** What an operation was. */
export type OpType =
  /** A row read through `@Cached`. */
  | 'read'
  /** A row write (any {@link WriteKind}). */
  | 'write'
  /** A capped list read through `getOrSetList`. */
  | 'list-read'
  /** A list append (database insert, then `cache.append`). */
  | 'append';

/** One completed operation, as a worker reports it. */
export interface OpRecord {
  /** Worker index and incarnation (a restarted worker is a new incarnation), client within it. */
  p: number;
  inc: number;
  c: number;
  type: OpType;
  /** Write kind (writes only). */
  kind?: string;
  /** Row id or thread id. */
  key: number;
  /** Invocation and completion. */
  t0: number;
  t1: number;
  /** For writes, when the database commit returned. */
  tc?: number;
  /** For reads that ran the loader: when its database read returned, and the version it read. */
  ld?: [number, number];
  /** Error message when the operation threw (an error surfaced to the caller). */
  err?: string;
  /** Row version read or committed; for lists, the highest sequence number read, or the one appended. */
  v?: number;
  /** Row value read or written ('' for a deleted row); for list reads, `seq:body` items joined by ','. */
  val?: string;
  /**
   * Where a read's answer came from: this instance's memory tier ('m'), a read or load of the key already in flight
   * in this instance when the read began ('f': joined, so as fresh as that one; the checker also marks a read that
   * overlapped an earlier one of its process and returned the same value), or Redis / the database ('r').
   */
  tier?: Tier;
  /**
   * A put whose record never came (its worker was killed first; see {@link openPuts}): known to the checker only to
   * judge a read of its value (an overtaken put), never as superseding older versions (its cache write may not
   * have happened).
   */
  open?: boolean;
}

/**
 * A stall of a worker's event loop (a tick that fired `ms` late, at `at`): the process ran nothing meanwhile, bus
 * messages and heartbeats included — scheduling noise of a loaded machine, added to that process's memory-tier bound.
 */
export interface Stall {
  p: number;
  inc: number;
  at: number;
  ms: number;
}

/** What the parent records of a fault. */
export interface FaultRecord {
  kind: FaultKind;
  /** Target worker for bus and app faults. */
  target?: number;
  /** Injected bus delay (bus-delay only). */
  delayMs?: number;
  start: number;
  end: number;
}

export const FAULT_KINDS = [
  'redis-kill',
  'redis-freeze',
  'bus-drop',
  'bus-silent',
  'bus-delay',
  'app-kill',
  'redis-oom',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * The puts whose commit was reported but whose record never came: their worker was killed in between (records are
 * sent in batches). Each is taken as completed when its worker died — its value may have reached the cache until then.
 */
export function openPuts(
  committed: readonly OpRecord[],
  ops: readonly OpRecord[],
  killedAt: Map<string, number>,
): OpRecord[] {
  const done = new Set(ops.filter((o) => o.type === 'write').map((o) => `${o.p}.${o.inc}.${o.c}.${o.v}`));
  const open: OpRecord[] = [];
  for (const put of committed) {
    const died = killedAt.get(`${put.p}.${put.inc}`);
    if (died === undefined || done.has(`${put.p}.${put.inc}.${put.c}.${put.v}`)) continue;
    open.push({ ...put, t1: died, open: true });
  }
  return open;
}
