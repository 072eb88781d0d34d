import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisServer } from '../../harness/redis-server.js';
import type { TcpProxy } from '../../harness/tcp-proxy.js';
import { FAULT_KINDS, now, type FaultKind, type FaultRecord } from './history.js';
import { deriveSeed, Rng } from './workload.js';

/** One planned fault: what, when (ms after the load starts), how long, on which worker. */
export interface PlannedFault {
  kind: FaultKind;
  atMs: number;
  durationMs: number;
  target: number;
  delayMs?: number;
}

const BUS_DELAYS = [5, 20, 60, 120, 200, 400];

/** The fault schedule of a seed: `count` faults of random kinds spread over `[headMs, spanMs)`. */
export function planFaults(
  seed: number,
  count: number,
  headMs: number,
  spanMs: number,
  workers: number,
): PlannedFault[] {
  const rng = new Rng(deriveSeed(seed, 'faults'));
  const gap = (spanMs - headMs) / Math.max(1, count);
  // Every kind at least once when there are enough faults, then random kinds; in a random order.
  const kinds = Array.from({ length: count }, (_, i) =>
    i < FAULT_KINDS.length ? (FAULT_KINDS[i] as FaultKind) : rng.pick(FAULT_KINDS),
  );
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [kinds[i], kinds[j]] = [kinds[j] as FaultKind, kinds[i] as FaultKind];
  }
  const plan: PlannedFault[] = [];
  for (const [i, kind] of kinds.entries()) {
    const atMs = Math.round(headMs + i * gap + rng.next() * gap * 0.3);
    const target = rng.int(0, workers - 1);
    const durationMs = {
      'redis-kill': rng.int(200, 1_500),
      'redis-freeze': rng.int(300, 2_000),
      'bus-drop': rng.int(200, 1_500),
      'bus-silent': rng.int(500, 2_500),
      'bus-delay': rng.int(1_000, 3_000),
      'app-kill': 0,
      'redis-oom': rng.int(1_000, 3_000),
    }[kind];
    plan.push({ kind, atMs, durationMs, target, ...(kind === 'bus-delay' ? { delayMs: rng.pick(BUS_DELAYS) } : {}) });
  }
  return plan;
}

/** What the injector acts on. */
export interface FaultTargets {
  redis: RedisServer;
  busProxies: readonly TcpProxy[];
  /** SIGKILLs worker `index` and starts its next incarnation; resolves once the new one runs. */
  restartWorker(index: number): Promise<void>;
}

/** Injects one fault for real and heals it; returns its record (start and end on the shared clock). */
export async function inject(fault: PlannedFault, t: FaultTargets): Promise<FaultRecord> {
  const start = now();
  const proxy = t.busProxies[fault.target] as TcpProxy;
  switch (fault.kind) {
    case 'redis-kill':
      await t.redis.kill();
      await sleep(fault.durationMs);
      await t.redis.restart();
      break;
    case 'redis-freeze':
      t.redis.freeze();
      await sleep(fault.durationMs);
      t.redis.thaw();
      break;
    case 'bus-drop':
      proxy.drop();
      await sleep(fault.durationMs);
      proxy.restore();
      break;
    case 'bus-silent':
      proxy.blackhole();
      await sleep(fault.durationMs);
      proxy.restore();
      break;
    case 'bus-delay':
      proxy.delay(fault.delayMs ?? 0);
      await sleep(fault.durationMs);
      proxy.restore();
      break;
    case 'app-kill':
      await t.restartWorker(fault.target);
      break;
    case 'redis-oom': {
      const info = String(await t.redis.command('INFO', 'memory'));
      const used = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
      await t.redis.command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
      await t.redis.command('CONFIG', 'SET', 'maxmemory', String(used));
      await sleep(fault.durationMs);
      await t.redis.command('CONFIG', 'SET', 'maxmemory', '0');
      break;
    }
  }
  const end = now();
  const record: FaultRecord = { kind: fault.kind, start, end };
  if (fault.kind.startsWith('bus-') || fault.kind === 'app-kill') record.target = fault.target;
  if (fault.delayMs !== undefined) record.delayMs = fault.delayMs;
  return record;
}
