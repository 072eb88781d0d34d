// The coherence checker on hand-made histories: it must flag each kind of violation it claims to find (a checker that
// cannot fail proves nothing), and let through exactly what the README documents.
import { describe, expect, it } from '@jest/globals';
import { check, DEFAULT_BOUNDS, type DbHistory } from './support/checker.js';
import { openPuts, type FaultRecord, type OpRecord } from './support/history.js';

const T = 1_000_000;
let n = 0;
const op = (o: Partial<OpRecord> & Pick<OpRecord, 'type' | 't0' | 't1'>): OpRecord => ({
  p: 0,
  inc: 0,
  c: n++,
  key: 1,
  ...o,
});
const write = (v: number, t0: number, t1: number, kind = 'invalidate'): OpRecord =>
  op({ type: 'write', kind, v, val: `x${v}`, t0: T + t0, t1: T + t1, tc: T + t0 + 1 });
const read = (v: number, t0: number, tier: OpRecord['tier'] = 'r', val = `x${v}`): OpRecord =>
  op({ type: 'read', v, val, tier, t0: T + t0, t1: T + t0 + 1 });

function db(maxVersion: number): DbHistory {
  const versions = new Map<number, string>([[0, 'init']]);
  for (let v = 1; v <= maxVersion; v++) versions.set(v, `x${v}`);
  const messages = new Map<number, string>();
  for (let s = 1; s <= 5; s++) messages.set(s, `m${s}`);
  return { rows: new Map([[1, versions]]), messages: new Map([[1, messages]]), listMax: 3 };
}

const kinds = (ops: OpRecord[], faults: FaultRecord[] = [], maxVersion = 3): string[] =>
  check(ops, faults, db(maxVersion)).violations.map((v) => `${v.what}/${v.context}`);

describe('coherence checker', () => {
  it('passes a history where every read returns the newest completed write', () => {
    expect(kinds([write(1, 0, 10), read(1, 20), write(2, 30, 40), read(1, 35), read(2, 41)])).toEqual([]);
  });

  it('flags a read from Redis that is older than a write completed before it began', () => {
    expect(kinds([write(1, 0, 10), write(2, 20, 30), read(1, 40)])).toEqual(['stale/none']);
  });

  it('lets a memory-tier read lag by the healthy bus delay, not more', () => {
    const lag = DEFAULT_BOUNDS.healthyBusMs + DEFAULT_BOUNDS.slackMs;
    expect(kinds([write(1, 0, 10), write(2, 20, 30), read(1, 30 + lag - 5, 'm')])).toEqual([]);
    expect(kinds([write(1, 0, 10), write(2, 20, 30), read(1, 30 + lag + 5, 'm')])).toEqual(['stale/none']);
    // Unless the reading process's event loop stood still meanwhile (it could not apply the bus message).
    const stall = { p: 0, inc: 0, at: T + 200, ms: 100 };
    const late = [write(1, 0, 10), write(2, 20, 30), read(1, 30 + lag + 50, 'm')];
    expect(check(late, [], db(3), DEFAULT_BOUNDS, [stall]).violations).toEqual([]);
    expect(check(late, [], db(3), DEFAULT_BOUNDS, [{ ...stall, p: 1 }]).violations).toHaveLength(1);
  });

  it('holds a read of a version its process already held to the memory-tier bound', () => {
    const mine = op({ type: 'read', v: 1, val: 'x1', tier: 'r', t0: T + 12, t1: T + 15 });
    const again = op({ type: 'read', v: 1, val: 'x1', tier: 'r', t0: T + 200, t1: T + 201 });
    expect(kinds([write(1, 0, 10), mine, write(2, 20, 30), again])).toEqual([]);
    expect(kinds([write(1, 0, 10), { ...mine, p: 1 }, write(2, 20, 30), { ...again, c: n++ }])).toEqual(['stale/none']);
  });

  it('holds a read that joined one in flight in its process to the memory-tier bound', () => {
    const first = op({ type: 'read', v: 1, val: 'x1', tier: 'r', t0: T + 25, t1: T + 100 });
    const joined = op({ type: 'read', v: 1, val: 'x1', tier: 'r', t0: T + 40, t1: T + 100 });
    expect(kinds([write(1, 0, 10), write(2, 20, 30), first, joined])).toEqual([]);
    const other = { ...joined, p: 1, c: n++ };
    expect(kinds([write(1, 0, 10), write(2, 20, 30), first, other])).toEqual(['stale/none']);
  });

  it('allows one heartbeat plus the command timeout while the bus is silent, not more', () => {
    const silent: FaultRecord = { kind: 'bus-silent', target: 0, start: T, end: T + 3_000 };
    const ok = 30 + DEFAULT_BOUNDS.heartbeatPlusTimeoutMs;
    expect(kinds([write(1, 0, 10), write(2, 20, 30), read(1, ok, 'm')], [silent])).toEqual([]);
    expect(kinds([write(1, 0, 10), write(2, 20, 30), read(1, ok + 400, 'm')], [silent])).toEqual(['stale/bus-silent']);
    // A bus fault says nothing about Redis: a read that reached it is held to "never stale".
    expect(kinds([write(1, 0, 10), write(2, 20, 30), read(1, 50, 'r')], [silent])).toEqual(['stale/bus-silent']);
  });

  it('allows the replay window after a Redis outage, measured from its end', () => {
    const freeze: FaultRecord = { kind: 'redis-freeze', start: T, end: T + 2_000 };
    const after = 2_000 + DEFAULT_BOUNDS.replayAfterMs;
    expect(kinds([write(1, 0, 10), write(2, 20, 30), read(1, after, 'r')], [freeze])).toEqual([]);
    expect(kinds([write(1, 0, 10), write(2, 20, 30), read(1, after + 400, 'r')], [freeze])).toEqual([
      'stale/redis-freeze',
    ]);
  });

  it('flags values never written and values from the future', () => {
    expect(kinds([write(1, 0, 10), read(1, 20, 'r', 'forged')])).toEqual(['never-written/none']);
    expect(kinds([write(1, 0, 10), read(7, 20)])).toEqual(['never-written/none']);
    expect(kinds([read(1, 0), write(1, 50, 60)])).toEqual(['future/none']);
  });

  it('counts an overtaken put as documented, but not once a later write must have replaced it', () => {
    const put = write(1, 0, 100, 'put');
    const overtaking = write(2, 10, 20);
    // Read by another process than the put's (whose memory tier may hold what it put).
    const r = check([put, overtaking, { ...read(1, 500), p: 1 }], [], db(3));
    expect(r.violations).toEqual([]);
    expect(r.documented.overtakenPut).toBe(1);
    // A write committed after the put completed invalidates after it: the put's value must be gone by then.
    expect(kinds([put, overtaking, write(3, 200, 210), { ...read(1, 500), p: 1 }])).toEqual(['stale/none']);
  });

  it('takes a put whose worker was killed before sending its record as completed at the kill', () => {
    // The put's commit notice (sent at once); its completed record was lost with its worker, killed at T + 100.
    const put = { ...write(1, 0, 0, 'put'), p: 2 };
    const overtaking = write(2, 10, 20);
    const killed = new Map([['2.0', T + 100]]);
    const opened = openPuts([put], [overtaking], killed);
    expect(opened).toEqual([{ ...put, t1: T + 100, open: true }]);
    // It never supersedes an older version (its cache write may not have happened): a read of v0 after the kill,
    // before any recorded newer write completed, stays fine.
    expect(kinds([...opened, { ...read(0, 150), p: 1, val: 'init' }, write(2, 200, 210)])).toEqual([]);
    // Without it a read of the put's value is a violation; with it, the documented overtaken put.
    expect(kinds([overtaking, { ...read(1, 500), p: 1 }])).toEqual(['stale/none']);
    const r = check([overtaking, ...opened, { ...read(1, 500), p: 1 }], [], db(3));
    expect(r.violations).toEqual([]);
    expect(r.documented.overtakenPut).toBe(1);
    // Still a violation once a write committed after the kill has completed before the read.
    expect(kinds([overtaking, ...opened, write(3, 200, 210), { ...read(1, 500), p: 1 }])).toEqual(['stale/none']);
    // A put whose record came, or whose worker was not killed, adds nothing.
    expect(openPuts([put], [overtaking, { ...put, t1: T + 50 }], killed)).toEqual([]);
    expect(openPuts([put], [overtaking], new Map())).toEqual([]);
  });

  it('counts an update merged over an overtaken put as documented, not an update alone', () => {
    // Seed 404: put v1 lands after v3's invalidation; update v2 (committed before v3) finds v1 cached and writes v2.
    const put = write(1, 0, 100, 'put');
    const update = write(2, 5, 120, 'update');
    const newer = write(3, 10, 20, 'tag');
    const r = check([put, update, newer, { ...read(2, 500), p: 1 }], [], db(3));
    expect(r.violations).toEqual([]);
    expect(r.documented.overtakenPut).toBe(1);
    // Without a put in flight, an update's older value after the newer write completed is a violation.
    expect(kinds([write(1, 0, 4), update, newer, { ...read(2, 500), p: 1 }])).toEqual(['stale/none']);
    // Nor does a put that completed before the newer write did cover it (the newer write replaced it).
    expect(kinds([write(1, 0, 15, 'put'), update, newer, { ...read(2, 500), p: 1 }])).toEqual(['stale/none']);
  });

  it('checks lists: items must be committed; order anomalies of concurrent appends are counted apart', () => {
    const append = (s: number, t0: number): OpRecord =>
      op({ type: 'append', kind: 'append', v: s, val: `m${s}`, t0: T + t0, t1: T + t0 + 5 });
    const listRead = (val: string, v: number, t0: number): OpRecord =>
      op({ type: 'list-read', v, val, tier: 'r', t0: T + t0, t1: T + t0 + 1 });
    const appends = [append(1, 0), append(2, 10), append(3, 20)];
    expect(kinds([...appends, listRead('1:m1,2:m2,3:m3', 3, 30)])).toEqual([]);
    expect(kinds([...appends, listRead('1:m1,2:m2', 2, 30)])).toEqual(['stale/none']);
    expect(kinds([...appends, listRead('1:m1,2:zz,3:m3', 3, 30)])).toEqual(['never-written/none']);
    const raced = check([...appends, listRead('1:m1,3:m3,2:m2', 3, 30)], [], db(3));
    expect(raced.violations).toEqual([]);
    expect(raced.documented.listAppendRace).toBe(1);
    // A list invalidated after each insert (no append) has no excuse.
    const invalidated = appends.map((a) => ({ ...a, kind: 'invalidate' }));
    expect(kinds([...invalidated, listRead('1:m1,3:m3,2:m2', 3, 30)])).toEqual(['never-written/none']);
  });

  it('reports an error surfaced to a caller', () => {
    expect(kinds([op({ type: 'read', err: 'boom', t0: T, t1: T + 1 })])).toEqual(['error/none']);
  });
});
