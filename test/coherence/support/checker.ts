/**
 * The coherence checker: sees every operation of every process (one clock) and the database's own history, and
 * holds the library to the staleness bound the README states ("Several instances"), per fault kind:
 * - a read returns a value that was written (its version and value are in the database's history; a list is the
 *   database's last N messages at some sequence number), and never one written after the read completed;
 * - per key, a read is stale when a write newer than the value it returned had completed before the read began;
 *   its staleness is how long before the read began the first such write completed;
 * - a read served from this instance's memory tier (or joining a load already in flight here; a read of a version
 *   its process already held counts as possibly served by its memory tier) may be stale by the
 *   bus delay when healthy (a delay injected in the bus adds to it), by one heartbeat plus the command timeout while
 *   Redis or the bus subscriber is down or silent; a read that reached Redis (or the database) is never stale;
 * - documented, counted apart and not violations (README, "Several instances"): a `@CachePut` overtaken by a newer
 *   write's invalidation or put (the older value reached Redis last and stays until the next write of the key — or an
 *   `update` racing it merges over it, still older than the newer write: seed 404 showed it), and
 *   capped lists kept by `append` whose concurrent appends landed out of order or twice (a list invalidated after
 *   each insert instead must be exact).
 * A fault counts for a read when it was active (or settling) between its superseding write's completion (less one
 * healthy bus delay) and the read's start; the most permissive such fault gives the bound. A memory-tier bound also
 * grows by the time the reading process's event loop stood still meanwhile (measured; it applies no bus message and
 * runs no heartbeat while descheduled — the scheduling noise of a loaded machine, not the library's delay).
 */
import type { FaultKind, FaultRecord, OpRecord, Stall, Tier } from './history.js';

/** The bounds, in ms (see the README's "Several instances"). */
export interface Bounds {
  /** Bus delay when healthy (a generous bound: the measured figure goes to the report). */
  healthyBusMs: number;
  /** The bus heartbeat interval plus the command timeout (1 s + 250 ms with the defaults). */
  heartbeatPlusTimeoutMs: number;
  /** After Redis answers again: one breaker probe interval plus the command timeout, for the writer's replay. */
  replayAfterMs: number;
  /** Scheduling noise of a loaded machine on top of any bound. */
  slackMs: number;
  /** Clock tolerance between processes for "completed before began". */
  clockMs: number;
  /** How long after a fault ends it still counts (reconnect backoff, breaker probe). */
  settleMs: number;
}

export const DEFAULT_BOUNDS: Bounds = {
  healthyBusMs: 250,
  heartbeatPlusTimeoutMs: 1_250,
  replayAfterMs: 1_250,
  slackMs: 250,
  clockMs: 2,
  settleMs: 2_500,
};

/** What the database says was written. */
export interface DbHistory {
  /** Row id → version → value ('' when deleted). */
  rows: Map<number, Map<number, string>>;
  /** Thread id → sequence number → body. */
  messages: Map<number, Map<number, string>>;
  /** Capped list length. */
  listMax: number;
}

export type Context = 'none' | FaultKind;

export interface Violation {
  what: 'stale' | 'never-written' | 'future' | 'error';
  context: Context;
  detail: string;
  staleMs?: number;
  boundMs?: number;
  read: OpRecord;
  /** Operations on the same key around the read, and the faults in play. */
  around: OpRecord[];
  faults: FaultRecord[];
}

export interface Distribution {
  reads: number;
  stale: number;
  p50: number;
  p99: number;
  max: number;
}

export interface CheckResult {
  ops: number;
  reads: number;
  writes: number;
  errors: number;
  /** Staleness of stale reads (ms), per context and tier ('m' memory tier, 'f' joined load, 'r' Redis or source). */
  staleness: Record<string, Distribution>;
  /** Documented anomalies (not violations): stale reads of an overtaken put, lists with appends out of order. */
  documented: { overtakenPut: number; overtakenPutMaxMs: number; listAppendRace: number };
  violations: Violation[];
}

interface KeyOps {
  reads: OpRecord[];
  /** Completed writes, sorted by version. */
  writes: OpRecord[];
  /** supersede[i]: earliest completion among writes[i..] (by version). */
  supersede: number[];
  byVersion: Map<number, OpRecord>;
  all: OpRecord[];
  /** Reads that overlapped an earlier read of their process and returned the same value (see sharedReads). */
  joined: Set<OpRecord>;
  /** `p.inc|v` → when that process first held row version v (a read of it returned it, or a put of it wrote it). */
  held: Map<string, number>;
}

function group(ops: readonly OpRecord[], readType: string, writeType: string): Map<number, KeyOps> {
  const keys = new Map<number, KeyOps>();
  for (const op of ops) {
    if (op.type !== readType && op.type !== writeType) continue;
    let k = keys.get(op.key);
    if (!k)
      keys.set(
        op.key,
        (k = {
          reads: [],
          writes: [],
          supersede: [],
          byVersion: new Map(),
          all: [],
          joined: new Set(),
          held: new Map(),
        }),
      );
    k.all.push(op);
    if (op.err !== undefined || op.v === undefined) continue;
    if (op.open) {
      k.byVersion.set(op.v, op);
      continue;
    }
    // What may sit in this process's memory tier: rows it read, or put (a put fills the writer's tier).
    if (op.type === 'read' || op.kind === 'put') {
      const heldKey = `${op.p}.${op.inc}|${op.v}`;
      k.held.set(heldKey, Math.min(k.held.get(heldKey) ?? Infinity, op.t1));
    }
    if (op.type === readType) k.reads.push(op);
    else {
      k.writes.push(op);
      k.byVersion.set(op.v, op);
    }
  }
  for (const k of keys.values()) {
    for (const r of sharedReads(k.reads)) k.joined.add(r);
    k.writes.sort((a, b) => (a.v ?? 0) - (b.v ?? 0));
    k.supersede = new Array<number>(k.writes.length);
    let min = Infinity;
    for (let i = k.writes.length - 1; i >= 0; i--) {
      min = Math.min(min, (k.writes[i] as OpRecord).t1);
      k.supersede[i] = min;
    }
    k.all.sort((a, b) => a.t0 - b.t0);
  }
  return keys;
}

/** Records grouped by worker incarnation (`p.inc`: a process, and which start of it). */
function byIncarnation<R extends { p: number; inc: number }>(records: readonly R[]): Map<string, R[]> {
  const groups = new Map<string, R[]>();
  for (const r of records) {
    const key = `${r.p}.${r.inc}`;
    const list = groups.get(key) ?? [];
    list.push(r);
    groups.set(key, list);
  }
  return groups;
}

/**
 * Concurrent reads of one key in one process share a backend read or load already in flight: a read that began while
 * an earlier one of its process was still running, and returned what that one returned, is as fresh as that one —
 * in-process state kept coherent by the bus, like the memory tier ('f').
 */
function sharedReads(reads: readonly OpRecord[]): OpRecord[] {
  const joined: OpRecord[] = [];
  const byProcess = byIncarnation(reads);
  for (const list of byProcess.values()) {
    list.sort((a, b) => a.t0 - b.t0);
    for (let i = 1; i < list.length; i++) {
      const read = list[i] as OpRecord;
      if (read.tier !== 'r' || read.ld) continue;
      for (let j = i - 1; j >= 0 && j >= i - 32; j--) {
        const earlier = list[j] as OpRecord;
        if (earlier.t1 >= read.t0 && earlier.v === read.v && earlier.val === read.val) {
          joined.push(read);
          break;
        }
      }
    }
  }
  return joined;
}

/** Earliest completion of a write with a version above `v` (Infinity when none completed). */
function supersededAt(k: KeyOps, v: number): number {
  let lo = 0;
  let hi = k.writes.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (((k.writes[mid] as OpRecord).v ?? 0) > v) hi = mid;
    else lo = mid + 1;
  }
  return lo < k.writes.length ? (k.supersede[lo] as number) : Infinity;
}

/**
 * The staleness bound (ms) of a read served by `tier` whose value was superseded at `superseded`, while `fault` was in
 * play (undefined: healthy).
 */
export function boundFor(tier: Tier, fault: FaultRecord | undefined, superseded: number, b: Bounds): number {
  const memory = tier !== 'r';
  const healthy = memory ? b.healthyBusMs + b.slackMs : b.clockMs;
  if (!fault) return healthy;
  switch (fault.kind) {
    case 'bus-delay':
      return memory ? Math.min((fault.delayMs ?? 0) + b.healthyBusMs, b.heartbeatPlusTimeoutMs) + b.slackMs : healthy;
    case 'bus-drop':
    case 'bus-silent':
      return memory ? b.heartbeatPlusTimeoutMs + b.slackMs : healthy;
    case 'redis-kill':
    case 'redis-freeze':
    case 'redis-oom':
      // A change made while Redis could not take it is redone once Redis answers again (the replay, at the latest
      // one breaker probe plus a command timeout later): until then any tier of another instance may hold the old
      // value. A memory tier is flushed within one heartbeat plus the command timeout of the fault's start.
      return Math.max(memory ? b.heartbeatPlusTimeoutMs : 0, fault.end - superseded + b.replayAfterMs) + b.slackMs;
    case 'app-kill':
      return healthy;
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] as number;
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

/** Checks a merged history against the database's history; see the module comment for the rules. */
export function check(
  ops: readonly OpRecord[],
  faults: readonly FaultRecord[],
  db: DbHistory,
  bounds: Bounds = DEFAULT_BOUNDS,
  stalls: readonly Stall[] = [],
): CheckResult {
  // Per worker incarnation: how long its event loop stood still between two times (it could not apply bus messages
  // or run its heartbeat meanwhile): added to the bound of its memory-tier reads.
  const stallsOf = byIncarnation(stalls);
  const stalledMs = (read: OpRecord, from: number): number =>
    (stallsOf.get(`${read.p}.${read.inc}`) ?? [])
      .filter((s) => s.at >= from && s.at - s.ms <= read.t0)
      .reduce((sum, s) => sum + s.ms, 0);
  const violations: Violation[] = [];
  const samples = new Map<string, { reads: number; stale: number[] }>();
  const sample = (name: string): { reads: number; stale: number[] } => {
    let s = samples.get(name);
    if (!s) samples.set(name, (s = { reads: 0, stale: [] }));
    return s;
  };
  const faultsIn = (from: number, to: number): FaultRecord[] =>
    faults.filter((f) => f.start <= to && f.end + bounds.settleMs >= from);
  const around = (k: KeyOps, read: OpRecord): OpRecord[] =>
    k.all.filter((o) => o.t1 >= read.t0 - 2_000 && o.t0 <= read.t1).slice(-16);

  const documented = { overtakenPut: 0, overtakenPutMaxMs: 0, listAppendRace: 0 };
  const errors = ops.filter((o) => o.err !== undefined);
  for (const op of errors) {
    violations.push({
      what: 'error',
      context: 'none',
      detail: `${op.type} ${op.kind ?? ''} of ${op.key} threw: ${op.err}`,
      read: op,
      around: [],
      faults: faultsIn(op.t0, op.t1),
    });
  }

  const judge = (k: KeyOps, read: OpRecord, valid: string | undefined): void => {
    const v = read.v ?? 0;
    if (valid !== undefined) {
      const faults = faultsIn(read.t0 - 3_000, read.t1);
      violations.push({ what: 'never-written', context: 'none', detail: valid, read, around: around(k, read), faults });
      return;
    }
    const writer = k.byVersion.get(v);
    if (writer && writer.t0 > read.t1 + bounds.clockMs) {
      const detail = `returned v${v}, written by an operation invoked ${round(writer.t0 - read.t1)} ms after the read completed`;
      violations.push({ what: 'future', context: 'none', detail, read, around: around(k, read), faults: [] });
    }
    // Served from this process's memory tier when the worker saw it there — or when it could have: the process held
    // that very version before (a read or write of it completed), so its memory tier may have kept it. The worker's
    // peek is only a hint: the library's own hit path may look at the tier another way.
    const heldBefore = (k.held.get(`${read.p}.${read.inc}|${v}`) ?? Infinity) < read.t0;
    const tier = read.tier === 'm' || heldBefore ? 'm' : k.joined.has(read) ? 'f' : (read.tier ?? 'r');
    const superseded = supersededAt(k, v);
    const inPlay = faultsIn(superseded - bounds.healthyBusMs, read.t0);
    const bound = (f: FaultRecord | undefined): number => boundFor(tier, f, superseded, bounds);
    // The most permissive fault in play gives the bound; among equals, the latest (the one the read is nearest to).
    let worst: FaultRecord | undefined = inPlay.at(-1);
    for (const f of inPlay) if (bound(f) > bound(worst)) worst = f;
    const context: Context = worst?.kind ?? 'none';
    const s = sample(`${context}/${tier}`);
    s.reads++;
    const staleMs = read.t0 - superseded;
    if (staleMs <= bounds.clockMs) return;
    const boundMs = bound(worst) + (tier === 'r' ? 0 : stalledMs(read, superseded - bounds.healthyBusMs));
    if (
      staleMs > boundMs &&
      (overtakenPut(k, v, read.t0, bounds.clockMs) || overPut(k, v, superseded, read.t0, bounds))
    ) {
      documented.overtakenPut++;
      documented.overtakenPutMaxMs = Math.max(documented.overtakenPutMaxMs, round(staleMs));
      return;
    }
    s.stale.push(staleMs);
    if (staleMs > boundMs) {
      const newer = k.writes.filter((w) => (w.v ?? 0) > v && w.t1 < read.t0).slice(0, 3);
      const detail = `key ${read.key}: read v${v} (tier ${tier}) ${round(staleMs)} ms after v${newer[0]?.v} completed (bound ${round(boundMs)} ms, ${context})`;
      violations.push({
        what: 'stale',
        context,
        detail,
        staleMs,
        boundMs,
        read,
        around: around(k, read),
        faults: inPlay,
      });
    }
  };

  const rows = group(ops, 'read', 'write');
  for (const [id, k] of rows) {
    const versions = db.rows.get(id);
    for (const read of k.reads) {
      const written = versions?.get(read.v ?? -1);
      const invalid =
        written === undefined
          ? `row ${id}: v${read.v} is in no committed version`
          : written !== read.val
            ? `row ${id}: v${read.v} read as "${read.val}", committed as "${written}"`
            : undefined;
      judge(k, read, invalid);
    }
  }
  const lists = group(ops, 'list-read', 'append');
  for (const [thread, k] of lists) {
    const messages = db.messages.get(thread) ?? new Map<number, string>();
    // Only lists kept by `append` may race; a list invalidated after each insert must be exact.
    const appended = k.writes.some((w) => w.kind !== 'invalidate');
    for (const read of k.reads) {
      let problem = listProblem(thread, read, messages, db.listMax);
      if (problem === 'append-race' && appended) documented.listAppendRace++;
      else if (problem === 'append-race')
        problem = `thread ${thread}: [${read.val}] is not the last ${db.listMax} messages up to ${read.v}`;
      judge(k, read, problem === 'append-race' ? undefined : problem);
    }
  }

  const staleness: Record<string, Distribution> = {};
  for (const [name, s] of [...samples].sort()) {
    const sorted = [...s.stale].sort((a, b) => a - b);
    staleness[name] = {
      reads: s.reads,
      stale: sorted.length,
      p50: round(percentile(sorted, 0.5)),
      p99: round(percentile(sorted, 0.99)),
      max: round(sorted.at(-1) ?? 0),
    };
  }
  const reads = ops.filter((o) => o.type === 'read' || o.type === 'list-read').length;
  return {
    ops: ops.length,
    reads,
    writes: ops.length - reads,
    errors: errors.length,
    staleness,
    documented,
    violations,
  };
}

/**
 * Whether the value a stale read returned (version `v`) was written by a `@CachePut` that may have reached the entry
 * after every newer write's cache action: no newer write committed after the put completed (such a write's
 * invalidation or put necessarily came after the put's and replaced it) had completed before the read began.
 */
function overtakenPut(k: KeyOps, v: number, readStart: number, clockMs: number): boolean {
  const put = k.byVersion.get(v);
  if (put?.kind !== 'put') return false;
  return !k.writes.some((w) => (w.v ?? 0) > v && (w.tc ?? w.t0) > put.t1 + clockMs && w.t1 < readStart - clockMs);
}

/**
 * Whether the value a stale read returned (version `v`) was written by an `update` applied over an overtaken put: a
 * put of an older version that completed after the newer write (`superseded`) did, and was itself overtaken — the
 * update found the put's value in the cache and replaced it with its own, still older than the newer write (the
 * worker's update keeps the higher version of what is cached and what it wrote). The same documented anomaly, one
 * step on: the older value stays until the next write of the key.
 */
function overPut(k: KeyOps, v: number, superseded: number, readStart: number, bounds: Bounds): boolean {
  const update = k.byVersion.get(v);
  if (update?.kind !== 'update') return false;
  return k.writes.some(
    (put) =>
      put.kind === 'put' &&
      (put.v ?? 0) < v &&
      put.t1 > superseded - bounds.clockMs &&
      put.t0 < update.t1 + bounds.clockMs &&
      overtakenPut(k, put.v ?? 0, readStart, bounds.clockMs),
  );
}

/**
 * Why a list read is not the database's last `listMax` messages up to its highest sequence number: undefined if it
 * is; a problem (a violation) when an item was never committed as read; 'append-race' when every item was committed
 * as read but the list is not that exact suffix — concurrent appends (and appends racing a load) landed out of order
 * or twice, and trimming such a list can leave a hole near its head (documented; its freshness is still judged).
 */
function listProblem(
  thread: number,
  read: OpRecord,
  messages: Map<number, string>,
  listMax: number,
): string | undefined {
  const items = read.val ? read.val.split(',') : [];
  const last = read.v ?? 0;
  const seqs: number[] = [];
  for (const item of items) {
    const colon = item.indexOf(':');
    const seq = Number(item.slice(0, colon));
    const body = item.slice(colon + 1);
    if (messages.get(seq) !== body)
      return `thread ${thread}: seq ${seq} read as "${body}", committed as "${messages.get(seq)}"`;
    seqs.push(seq);
  }
  const exact = items.length === Math.min(listMax, last) && seqs.every((s, i) => s === last - seqs.length + 1 + i);
  return exact ? undefined : 'append-race';
}
