// Issue #14 — a randomized coherence checker (Jepsen-register style). Three app processes, each with the memory tier
// in front of one real redis-server, read and write rows of a real PostgreSQL table through every invalidation path
// of the library (decorators, invalidateOn events after commit, tags, prefixes, namespace clears, update, append),
// from many clients each, with random delays at the race points; meanwhile Redis is SIGKILLed and restarted,
// SIGSTOPped, pushed into OOM under noeviction, the bus subscriber's connection dropped, black-holed or delayed, and
// app processes SIGKILLed and restarted. The checker sees every operation and holds the library to the README's
// staleness bound per fault kind (support/checker.ts).
//
// Replay: every run prints its seed; COHERENCE_SEED=<seed> replays the same schedule of operations (per client) and
// faults. The interleaving of real processes on a real machine cannot be replayed: a failing seed makes the failure
// likely again, not certain. FC_LONG=1 (npm run test:long) runs ≥ 1,000,000 operations.
import { randomInt } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { reportDrill } from '../drills/support/processes.js';
import type { Violation } from './support/checker.js';
import type { FaultRecord } from './support/history.js';
import { runCoherence, type RunOptions, type RunOutcome } from './support/run.js';
import { killWorkers } from './support/workers.js';

const LONG = process.env['FC_LONG'] === '1';
const SEED = process.env['COHERENCE_SEED'] ? Number(process.env['COHERENCE_SEED']) : randomInt(1, 2 ** 31 - 1);

const SHAPE = { hotKeys: 8, coldKeys: 2_000, groups: 16, threads: 6, writeRatio: 0.3, thinkMs: 30 };
const CI: RunOptions = {
  seed: SEED,
  workers: 3,
  clients: 6,
  durationMs: Number(process.env['COHERENCE_MS'] ?? 80_000),
  quietMs: 5_000,
  faults: Number(process.env['COHERENCE_FAULTS'] ?? 24),
  shape: SHAPE,
  listMax: 20,
};
const LONG_RUN: RunOptions = {
  ...CI,
  clients: 12,
  shape: { ...SHAPE, thinkMs: 4 },
  // Faults every ~5 s until a million operations are recorded (the load stops there, after a quiet tail).
  durationMs: 1_800_000,
  targetOps: 1_000_000,
  faults: 360,
  progress: (line) => process.stdout.write(`coherence: ${line}\n`),
};

jest.setTimeout(LONG ? 3 * 3_600_000 : 300_000);

afterAll(async () => {
  await killWorkers();
});

function describeViolation(v: Violation): string {
  const fmt = (o: Violation['read']): string =>
    `  ${o.type}${o.kind ? `/${o.kind}` : ''} p${o.p}.${o.inc}c${o.c} key ${o.key} [${o.t0.toFixed(1)} → ${o.t1.toFixed(1)}]${o.tc ? ` commit ${o.tc.toFixed(1)}` : ''}${o.ld ? ` loaded v${o.ld[1]} at ${o.ld[0].toFixed(1)}` : ''} v${o.v ?? '?'} ${o.tier ?? ''}${o.type === 'list-read' ? ` [${o.val ?? ''}]` : ''}${o.err ? ` ERR ${o.err}` : ''}`;
  const faults = v.faults.map(
    (f) =>
      `  fault ${f.kind}${f.target !== undefined ? `@${f.target}` : ''} [${f.start.toFixed(1)} → ${f.end.toFixed(1)}]`,
  );
  return [`${v.what} (${v.context}): ${v.detail}`, fmt(v.read), '  around:', ...v.around.map(fmt), ...faults].join(
    '\n',
  );
}

function faultCounts(faults: readonly FaultRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const f of faults) counts[f.kind] = (counts[f.kind] ?? 0) + 1;
  return counts;
}

function report(name: string, out: RunOutcome): void {
  const { result } = out;
  const figures = {
    seed: out.seed,
    ops: result.ops,
    reads: result.reads,
    writes: result.writes,
    errors: result.errors,
    faults: out.faults.length,
    faultsByKind: faultCounts(out.faults),
    opsPerSecond: Math.round(result.ops / (out.loadMs / 1000)),
    loadMs: Math.round(out.loadMs),
    wallMs: Math.round(out.wallMs),
    stalenessMs: result.staleness,
    // Scheduling noise of the machine, as the workers measured it (event-loop ticks that fired > 15 ms late).
    eventLoopStalls: {
      count: out.stalls.length,
      maxMs: Math.round(out.stalls.reduce((max, st) => Math.max(max, st.ms), 0)),
      totalMs: Math.round(out.stalls.reduce((sum, st) => sum + st.ms, 0)),
    },
    documented: result.documented,
    violations: result.violations.length,
    violationsByKind: result.violations.reduce<Record<string, number>>((acc, v) => {
      acc[`${v.what}/${v.context}`] = (acc[`${v.what}/${v.context}`] ?? 0) + 1;
      return acc;
    }, {}),
    firstViolations: result.violations.slice(0, 5).map(describeViolation),
  };
  // Every violation with the operations around it, next to the report.
  mkdirSync('.tmp/drills', { recursive: true });
  writeFileSync(`.tmp/drills/${name}-violations.txt`, result.violations.map(describeViolation).join('\n\n'));
  reportDrill(
    name,
    figures,
    `coherence seed ${out.seed}: ${result.ops} ops, ${out.faults.length} faults ${JSON.stringify(figures.faultsByKind)}, ${result.violations.length} violations, ${Math.round(out.wallMs / 1000)} s wall; staleness ${JSON.stringify(result.staleness)}`,
  );
}

describe('coherence under random load and faults (issue #14)', () => {
  it(`no read is staler than the README's bound (seed ${SEED}${LONG ? ', long' : ''})`, async () => {
    process.stdout.write(`coherence: seed ${SEED} (replay with COHERENCE_SEED=${SEED})\n`);
    const out = await runCoherence(LONG ? LONG_RUN : CI);
    report(LONG ? 'coherence-long' : 'coherence', out);
    const { violations } = out.result;
    // Nothing tolerated: a value never written, a read from the future, an error surfaced to a caller, or a read
    // staler than the README's bound for its tier and fault. (The stale Redis reads this run kept finding near bus
    // faults were loads caching across a prefix clear or a tag invalidation in another instance: fixed by the load
    // fences, regression in clear-race.spec.ts; 0 in 1,007,312 operations of the long run since.)
    expect(violations.slice(0, 10).map(describeViolation)).toEqual([]);
    expect(out.faults.length).toBeGreaterThanOrEqual(Math.min(20, CI.faults));
    expect(out.result.ops).toBeGreaterThanOrEqual(LONG ? 1_000_000 : 10_000);
  });
});
