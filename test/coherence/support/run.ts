/**
 * One coherence run: a private redis-server, one TCP proxy per app worker for its bus subscriber, uniquely named
 * tables in the real PostgreSQL, N app workers under the seeded workload, the seeded fault schedule injected for
 * real, every operation merged into one history, and the checker's verdict. Tables are dropped afterwards.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { RedisServer } from '../../harness/redis-server.js';
import { TcpProxy } from '../../harness/tcp-proxy.js';
import { check, DEFAULT_BOUNDS, type CheckResult, type DbHistory } from './checker.js';
import type { WorkerConfig } from './coherence-worker.js';
import { inject, planFaults, type PlannedFault } from './faults.js';
import { now, openPuts, type FaultRecord, type OpRecord, type Stall } from './history.js';
import { deriveSeed, type WorkloadShape } from './workload.js';
import { AppWorker, killWorkers } from './workers.js';

export interface RunOptions {
  seed: number;
  workers: number;
  clients: number;
  /** Load time; faults are spread over it, the last `quietMs` of it have none (convergence). */
  durationMs: number;
  quietMs: number;
  faults: number;
  shape: WorkloadShape;
  listMax: number;
  /** Stop early once this many operations are recorded (and the faults are done). */
  targetOps?: number;
  /** Progress lines (long runs). */
  progress?: (line: string) => void;
}

export interface RunOutcome {
  seed: number;
  wallMs: number;
  loadMs: number;
  ops: OpRecord[];
  faults: FaultRecord[];
  plan: PlannedFault[];
  stalls: Stall[];
  result: CheckResult;
}

/** PostgreSQL as the machines run it: 127.0.0.1:5432, trust auth, database `test`, user postgres (or root). */
const PG_BASE = {
  host: process.env['PGHOST'] ?? '127.0.0.1',
  port: Number(process.env['PGPORT'] ?? 5432),
  database: process.env['PGDATABASE'] ?? 'test',
};

/** Connects as PGUSER, else as postgres, else as root (whichever role the machine has). */
async function connectPg(): Promise<{ client: pg.Client; user: string }> {
  const users = process.env['PGUSER'] ? [process.env['PGUSER']] : ['postgres', 'root'];
  let last: unknown;
  for (const user of users) {
    const client = new pg.Client({ ...PG_BASE, user });
    try {
      await client.connect();
      return { client, user };
    } catch (err) {
      last = err;
      await client.end().catch(() => undefined);
    }
  }
  throw new Error(`PostgreSQL at ${PG_BASE.host}:${PG_BASE.port}/${PG_BASE.database}: no role of ${users.join(', ')}`, {
    cause: last,
  });
}

async function createTables(client: pg.Client, t: string, shape: WorkloadShape): Promise<void> {
  const rows = shape.hotKeys + shape.coldKeys;
  await client.query(
    `CREATE TABLE ${t}_rows (id int PRIMARY KEY, v int NOT NULL, val text NOT NULL, del bool NOT NULL)`,
  );
  await client.query(
    `CREATE TABLE ${t}_hist (id int, v int, val text NOT NULL, del bool NOT NULL, PRIMARY KEY (id, v))`,
  );
  await client.query(`CREATE TABLE ${t}_threads (id int PRIMARY KEY, seq int NOT NULL)`);
  await client.query(`CREATE TABLE ${t}_msgs (thread int, seq int, body text NOT NULL, PRIMARY KEY (thread, seq))`);
  await client.query(`INSERT INTO ${t}_rows SELECT i, 0, 'init', false FROM generate_series(0, ${rows - 1}) i`);
  await client.query(`INSERT INTO ${t}_hist SELECT id, v, val, del FROM ${t}_rows`);
  await client.query(`INSERT INTO ${t}_threads SELECT i, 0 FROM generate_series(0, ${shape.threads - 1}) i`);
}

async function dropTables(client: pg.Client, t: string): Promise<void> {
  for (const name of ['rows', 'hist', 'threads', 'msgs']) await client.query(`DROP TABLE IF EXISTS ${t}_${name}`);
}

async function loadHistory(client: pg.Client, t: string, listMax: number): Promise<DbHistory> {
  const history: DbHistory = { rows: new Map(), messages: new Map(), listMax };
  const rows = await client.query<{ id: number; v: number; val: string; del: boolean }>(`SELECT * FROM ${t}_hist`);
  for (const r of rows.rows) {
    let m = history.rows.get(r.id);
    if (!m) history.rows.set(r.id, (m = new Map()));
    m.set(r.v, r.del ? '' : r.val);
  }
  const msgs = await client.query<{ thread: number; seq: number; body: string }>(`SELECT * FROM ${t}_msgs`);
  for (const r of msgs.rows) {
    let m = history.messages.get(r.thread);
    if (!m) history.messages.set(r.thread, (m = new Map()));
    m.set(r.seq, r.body);
  }
  return history;
}

/** Runs the whole system under the seeded load and faults, and checks the history. */
export async function runCoherence(o: RunOptions): Promise<RunOutcome> {
  const wallStart = now();
  const tables = `coh_${process.pid}_${Date.now().toString(36)}`;
  const prefix = `coh${o.seed.toString(36)}`;
  const { client: db, user } = await connectPg();
  let redis: RedisServer | undefined;
  const proxies: TcpProxy[] = [];
  const ops: OpRecord[] = [];
  const stalls: Stall[] = [];
  // Puts whose commit a worker reported at once: the ones whose record never came (their worker was killed first)
  // join the history, completed when their worker died (see openPuts).
  const committed: OpRecord[] = [];
  const killedAt = new Map<string, number>();
  const sink = (batch: OpRecord[], stalled: Stall[], put?: OpRecord): void => {
    for (const op of batch) ops.push(op);
    for (const stall of stalled) stalls.push(stall);
    if (put) committed.push(put);
  };
  const workers: AppWorker[] = [];
  try {
    await createTables(db, tables, o.shape);
    redis = await RedisServer.start();
    for (let i = 0; i < o.workers; i++) proxies.push(await TcpProxy.start(redis.port));
    const configOf = (index: number, incarnation: number): WorkerConfig => ({
      index,
      incarnation,
      seed: o.seed,
      redisPort: (redis as RedisServer).port,
      busPort: (proxies[index] as TcpProxy).port,
      prefix,
      tables,
      pg: { ...PG_BASE, user },
      clients: o.clients,
      shape: o.shape,
      listMax: o.listMax,
    });
    for (let i = 0; i < o.workers; i++) workers.push(new AppWorker(configOf(i, 0), sink));
    await Promise.all(workers.map((w) => w.until('ready', 60_000)));
    const incarnations = workers.map(() => 0);
    const restartWorker = async (index: number): Promise<void> => {
      await (workers[index] as AppWorker).kill();
      killedAt.set(`${index}.${incarnations[index] ?? 0}`, now());
      incarnations[index] = (incarnations[index] ?? 0) + 1;
      const next = new AppWorker(configOf(index, incarnations[index] as number), sink);
      workers[index] = next;
      await next.until('ready', 60_000);
      next.send('go');
    };

    const plan = planFaults(deriveSeed(o.seed, 'plan'), o.faults, 2_000, o.durationMs - o.quietMs, o.workers);
    const faults: FaultRecord[] = [];
    const loadStart = now();
    for (const w of workers) w.send('go');
    for (const fault of plan) {
      if (o.targetOps !== undefined && ops.length >= o.targetOps) break;
      const wait = loadStart + fault.atMs - now();
      if (wait > 0) await sleep(wait);
      faults.push(await inject(fault, { redis, busProxies: proxies, restartWorker }));
      o.progress?.(`fault ${faults.length}/${plan.length} ${fault.kind}: ${ops.length} ops so far`);
    }
    // The quiet tail: no faults, the load goes on, and the system must converge.
    for (;;) {
      const elapsed = now() - loadStart;
      const quietSince = now() - (faults.at(-1)?.end ?? loadStart);
      if (elapsed >= o.durationMs && quietSince >= o.quietMs) break;
      if (o.targetOps !== undefined && ops.length >= o.targetOps && quietSince >= o.quietMs) break;
      await sleep(200);
      if (o.progress && Math.round(elapsed / 200) % 50 === 0)
        o.progress(`${ops.length} ops at ${Math.round(elapsed / 1000)} s`);
    }
    const loadMs = now() - loadStart;
    await Promise.all(workers.map((w) => w.shutdown(15_000)));
    const history = await loadHistory(db, tables, o.listMax);
    const result = check([...ops, ...openPuts(committed, ops, killedAt)], faults, history, DEFAULT_BOUNDS, stalls);
    return { seed: o.seed, wallMs: now() - wallStart, loadMs, ops, faults, plan, stalls, result };
  } finally {
    await killWorkers();
    for (const p of proxies) await p.close();
    await redis?.stop();
    await dropTables(db, tables).catch(() => undefined);
    await db.end();
  }
}
