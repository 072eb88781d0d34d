// An app process of the coherence checker: a Nest application context with the memory tier in front of Redis,
// reading and writing rows of a real PostgreSQL table through @Cached / @CachePut / @CacheInvalidate, invalidateOn
// events emitted after commit, tags, prefix and namespace invalidation, update and append — many concurrent clients,
// random delays at the race points, every operation recorded (invocation, completion, result) and sent to the parent.
// The main Redis connection goes straight to the server, the bus subscriber through the parent's TCP proxy (the
// `redis.client` factory is called once for each). Run through the bench loader:
//   node --import ./bench/register.js test/coherence/support/coherence-worker.ts '<WorkerConfig JSON>'
import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventEmitter2, EventEmitterModule } from '@nestjs/event-emitter';
import { Redis } from 'ioredis';
import pg from 'pg';
import { Cached, CacheInvalidate, CacheModule, CachePut, CacheService, composeKey } from 'nestjs-tiercache';
import { CACHE_ENGINE } from '../../../libs/cache/src/cache.constants.js';
import type { CacheEngine } from '../../../libs/cache/src/engine/cache-engine.js';
import { now, type OpRecord, type Stall } from './history.js';
import {
  deriveSeed,
  groupOf,
  listModeOf,
  nextOp,
  Rng,
  type Op,
  type WorkloadShape,
  type WriteKind,
} from './workload.js';

/** What the parent passes on the command line. */
export interface WorkerConfig {
  index: number;
  incarnation: number;
  seed: number;
  redisPort: number;
  busPort: number;
  prefix: string;
  /** Table name prefix in PostgreSQL (`<tables>_rows`, `_hist`, `_threads`, `_msgs`). */
  tables: string;
  pg: { host: string; port: number; user: string; database: string };
  clients: number;
  shape: WorkloadShape;
  listMax: number;
}

/** What a row read returns: the row's version, value and whether it is (soft-)deleted. */
export interface RowValue {
  id: number;
  v: number;
  val: string;
  del: boolean;
}

interface ListItem {
  s: number;
  b: string;
}

/** Event-loop stall detection: a tick every STALL_TICK_MS; one later than STALL_MIN_MS is a stall. */
const STALL_TICK_MS = 20;
const STALL_MIN_MS = 15;

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
const { shape, tables } = config;
const rowKey = (g: number, id: number): string => composeKey(g, id);

/** Delays injected at the race points, per call (set by the client running the operation). */
interface RacePlan {
  afterMs: number;
  /** Called when the database commit returned (the record's commit time), with the version committed. */
  onCommit?: (version: number) => void;
  /** Called when a loader's database read returned (the read was a miss in every tier). */
  onLoad?: (version: number) => void;
}

@Injectable()
class Db {
  readonly pool = new pg.Pool({ ...config.pg, max: config.clients + 2 });

  async readRow(id: number): Promise<RowValue> {
    const r = await this.pool.query<{ v: number; val: string; del: boolean }>(
      `SELECT v, val, del FROM ${tables}_rows WHERE id = $1`,
      [id],
    );
    const row = r.rows[0];
    if (!row) throw new Error(`row ${id} missing`);
    return { id, v: row.v, val: row.val, del: row.del };
  }

  /** One statement, one transaction: the row's version goes up by one and the new state is kept in the history. */
  async writeRow(id: number, val: string, del: boolean): Promise<RowValue> {
    const r = await this.pool.query<{ v: number }>(
      `WITH u AS (UPDATE ${tables}_rows SET v = v + 1, val = $2, del = $3 WHERE id = $1 RETURNING id, v, val, del)
       INSERT INTO ${tables}_hist (id, v, val, del) SELECT id, v, val, del FROM u RETURNING v`,
      [id, val, del],
    );
    const v = r.rows[0]?.v;
    if (v === undefined) throw new Error(`row ${id} missing`);
    return { id, v, val, del };
  }

  async lastMessages(thread: number): Promise<ListItem[]> {
    const r = await this.pool.query<{ seq: number; body: string }>(
      `SELECT seq, body FROM ${tables}_msgs WHERE thread = $1 ORDER BY seq DESC LIMIT ${config.listMax}`,
      [thread],
    );
    return r.rows.map((m) => ({ s: m.seq, b: m.body })).reverse();
  }

  async appendMessage(thread: number, body: string): Promise<ListItem> {
    const r = await this.pool.query<{ seq: number }>(
      `WITH u AS (UPDATE ${tables}_threads SET seq = seq + 1 WHERE id = $1 RETURNING id, seq)
       INSERT INTO ${tables}_msgs (thread, seq, body) SELECT id, seq, $2 FROM u RETURNING seq`,
      [thread, body],
    );
    const s = r.rows[0]?.seq;
    if (s === undefined) throw new Error(`thread ${thread} missing`);
    return { s, b: body };
  }
}

interface RowChanged {
  g: number;
  id: number;
}

@Injectable()
class Rows {
  constructor(
    private readonly db: Db,
    private readonly events: EventEmitter2,
    private readonly cache: CacheService,
  ) {}

  @Cached({
    namespace: 'row',
    key: (g: number, id: number) => rowKey(g, id),
    tags: (g: number, id: number) => [`r${id}`, `g${g}`],
    invalidateOn: { 'row.changed': (e: RowChanged) => rowKey(e.g, e.id) },
  })
  async get(g: number, id: number, plan: RacePlan): Promise<RowValue> {
    const row = await this.db.readRow(id);
    plan.onLoad?.(row.v);
    // Paused after the database read: a writer may commit and invalidate before this load is cached.
    if (plan.afterMs > 0) await sleep(plan.afterMs);
    return row;
  }

  @CacheInvalidate({ namespace: 'row', key: (g: number, id: number) => rowKey(g, id) })
  async writeInvalidate(g: number, id: number, val: string, plan: RacePlan): Promise<RowValue> {
    return this.commit(id, val, false, plan);
  }

  // The same tags as the @Cached read: an entry a put writes without them escapes tag invalidation (the checker found
  // exactly that when they were missing here).
  @CachePut({
    namespace: 'row',
    key: (g: number, id: number) => rowKey(g, id),
    tags: (g: number, id: number) => [`r${id}`, `g${g}`],
  })
  async writePut(g: number, id: number, val: string, plan: RacePlan): Promise<RowValue> {
    return this.commit(id, val, false, plan);
  }

  /** The database write, then a pause between the commit and whatever tells the cache. */
  async commit(id: number, val: string, del: boolean, plan: RacePlan): Promise<RowValue> {
    const row = await this.db.writeRow(id, val, del);
    plan.onCommit?.(row.v);
    if (plan.afterMs > 0) await sleep(plan.afterMs);
    return row;
  }

  /** A write of any kind. */
  async write(kind: WriteKind, id: number, val: string, plan: RacePlan): Promise<RowValue> {
    const g = groupOf(id, shape);
    const k = rowKey(g, id);
    if (kind === 'put') return this.writePut(g, id, val, plan);
    if (kind === 'invalidate') return this.writeInvalidate(g, id, val, plan);
    const row = await this.commit(id, val, kind === 'delete', plan);
    switch (kind) {
      case 'event':
        await this.events.emitAsync('row.changed', { g, id } satisfies RowChanged);
        break;
      case 'update':
        await this.cache.update<RowValue>('row', k, (cur) => (cur.v >= row.v ? cur : row));
        break;
      case 'delete':
        await this.cache.delete('row', k);
        break;
      case 'tag':
        await this.cache.invalidateTags([`r${id}`]);
        break;
      case 'group-tag':
        await this.cache.invalidateTags([`g${g}`]);
        break;
      case 'prefix':
        await this.cache.invalidatePrefix('row', [g]);
        break;
      case 'clear':
        await this.cache.clearNamespace('row');
        break;
    }
    return row;
  }

  async readList(thread: number, plan: RacePlan): Promise<ListItem[]> {
    return this.cache.getOrSetList(
      'thread',
      thread,
      async () => {
        const items = await this.db.lastMessages(thread);
        if (plan.afterMs > 0) await sleep(plan.afterMs);
        return items;
      },
      { maxLength: config.listMax },
    );
  }

  async append(thread: number, body: string, plan: RacePlan): Promise<ListItem> {
    const item = await this.db.appendMessage(thread, body);
    if (plan.afterMs > 0) await sleep(plan.afterMs);
    if (listModeOf(thread) === 'append') await this.cache.append('thread', thread, item, { maxLength: config.listMax });
    else await this.cache.delete('thread', thread);
    return item;
  }
}

/** The two connections: the first call makes the main client (direct), the second the bus subscriber (proxied). */
function redisFactory(): () => Redis {
  let made = 0;
  return () => {
    const bus = made++ > 0;
    return new Redis({
      host: '127.0.0.1',
      port: bus ? config.busPort : config.redisPort,
      // tiercache's own fail-fast settings (it cannot apply them to a client it did not create).
      enableOfflineQueue: false,
      commandTimeout: 250,
      maxRetriesPerRequest: 0,
      lazyConnect: true,
      connectTimeout: 2_000,
      disconnectTimeout: 200,
      retryStrategy: (n: number) => Math.min(n * 100, 1_000),
      enableReadyCheck: true,
      autoResubscribe: false,
      connectionName: `${config.prefix}:w${config.index}:${bus ? 'bus' : 'main'}`,
    });
  };
}

async function main(): Promise<void> {
  @Module({
    imports: [
      EventEmitterModule.forRoot(),
      CacheModule.forRoot({
        prefix: config.prefix,
        redis: { client: redisFactory() },
        memory: { maxEntries: 50_000 },
        namespaces: { row: { ttl: '10m' }, thread: { ttl: '10m' } },
      }),
    ],
    providers: [Db, Rows],
  })
  class WorkerModule {}

  const app = await NestFactory.createApplicationContext(WorkerModule, { logger: ['error'] });
  await app.init();
  const rows = app.get(Rows);
  const db = app.get(Db);
  const engine = app.get<CacheEngine>(CACHE_ENGINE, { strict: false });
  // Ready once Redis is: a write made before the connection is up fails open (queued, redone once connected), which
  // is the "Redis unreachable for the writer" case — a fault the parent did not inject.
  for (let waited = 0; !engine.store.redisConnected && waited < 10_000; waited += 20) await sleep(20);

  let pending: OpRecord[] = [];
  let stalls: Stall[] = [];
  const flush = (): void => {
    if ((pending.length === 0 && stalls.length === 0) || !process.connected) return;
    process.send?.({ type: 'ops', ops: pending, stalls });
    pending = [];
    stalls = [];
  };
  const flusher = setInterval(flush, 100);
  // Event-loop stalls (a loaded machine descheduling this process): every tick that fires late is reported.
  let expected = now() + STALL_TICK_MS;
  const ticker = setInterval(() => {
    const at = now();
    if (at - expected > STALL_MIN_MS) stalls.push({ p: config.index, inc: config.incarnation, at, ms: at - expected });
    expected = at + STALL_TICK_MS;
  }, STALL_TICK_MS);

  let running = false;
  const base = { p: config.index, inc: config.incarnation };

  async function run(c: number, op: Op, n: number): Promise<void> {
    const t0 = now();
    const rec: OpRecord = {
      ...base,
      c,
      type: op.op,
      key: op.op === 'read' || op.op === 'write' ? op.id : op.thread,
      t0,
      t1: 0,
    };
    try {
      if (op.op === 'read') {
        const g = groupOf(op.id, shape);
        const k = engine.space.entry('row', rowKey(g, op.id));
        // Where the answer comes from: this memory tier, a load already in flight here (joined), or Redis/the source.
        const held = engine.store.peek<RowValue>(k);
        const joined = engine.flights.has(k);
        const row = await rows.get(g, op.id, { afterMs: op.afterReadMs, onLoad: (v) => void (rec.ld = [now(), v]) });
        rec.v = row.v;
        rec.val = row.del ? '' : row.val;
        rec.tier =
          held !== undefined && held.value.v === row.v && held.value.val === row.val ? 'm' : joined ? 'f' : 'r';
      } else if (op.op === 'write') {
        const val = op.kind === 'delete' ? '' : `${config.index}.${config.incarnation}.${c}.${n}`;
        rec.kind = op.kind;
        const onCommit = (version: number): void => {
          rec.tc = now();
          // A put's value may reach the cache after this worker is killed, before its record (batched) is sent: the
          // checker hears of the put at once, so that it can judge a read of it (an overtaken put, documented).
          if (op.kind === 'put' && process.connected)
            process.send?.({ type: 'commit', op: { ...rec, kind: op.kind, v: version, val } satisfies OpRecord });
        };
        const plan = { afterMs: op.afterCommitMs, onCommit };
        const row = await rows.write(op.kind, op.id, val, plan);
        rec.v = row.v;
        rec.val = val;
      } else if (op.op === 'list-read') {
        const joined = engine.flights.has(engine.space.entry('thread', op.thread));
        const items = await rows.readList(op.thread, { afterMs: op.afterReadMs });
        rec.v = items.reduce((max, i) => Math.max(max, i.s), 0);
        rec.val = items.map((i) => `${i.s}:${i.b}`).join(',');
        rec.tier = joined ? 'f' : 'r';
      } else {
        const item = await rows.append(op.thread, `${config.index}.${config.incarnation}.${c}.${n}`, {
          afterMs: op.afterCommitMs,
        });
        rec.kind = listModeOf(op.thread);
        rec.v = item.s;
        rec.val = item.b;
      }
    } catch (err) {
      rec.err = String((err as Error)?.message ?? err);
    }
    rec.t1 = now();
    pending.push(rec);
  }

  async function client(c: number): Promise<void> {
    const rng = new Rng(deriveSeed(config.seed, 'client', config.index, config.incarnation, c));
    for (let n = 0; running; n++) {
      await run(c, nextOp(rng, shape), n);
      const think = rng.int(0, shape.thinkMs);
      if (think > 0) await sleep(think);
    }
  }

  let clients: Promise<void>[] = [];
  let closing = false;
  const close = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    running = false;
    await Promise.allSettled(clients);
    clearInterval(flusher);
    clearInterval(ticker);
    await app.close();
    await db.pool.end();
    if (process.connected) process.disconnect();
  };
  process.on('disconnect', () => void close());
  process.on('message', (msg: { cmd: string }) => {
    if (msg.cmd === 'go' && !running) {
      running = true;
      clients = Array.from({ length: config.clients }, (_, c) => client(c));
    } else if (msg.cmd === 'stop') {
      running = false;
      void Promise.allSettled(clients).then(() => {
        flush();
        process.send?.({ type: 'stopped', stats: engine.store.redisConnected });
      });
    } else if (msg.cmd === 'close') {
      void close();
    }
  });
  process.send?.({ type: 'ready', pid: process.pid });
}

main().catch((err: unknown) => {
  process.send?.({ type: 'fatal', error: String((err as Error)?.stack ?? err) });
  process.exitCode = 1;
  if (process.connected) process.disconnect();
});
