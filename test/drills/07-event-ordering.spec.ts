// Drill 7 — event ordering: invalidation events from a transaction apply after commit; a rollback leaves no trace;
// a failing invalidation handler (an invalidateOn key function that throws) escalates to a namespace clear, is never
// silently dropped and never crashes. The transaction is modelled in the test app: events queued inside it are
// emitted (emitAsync) only after the commit, as a unit of work with an outbox would.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import type { INestApplicationContext, LoggerService } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { Cached, CacheEvents, CacheModule, CacheService } from 'nestjs-tiercache';
import type { CacheInvalidatedEvent } from 'nestjs-tiercache';
import { decodeEntry, tombstoneId } from '../../libs/cache/src/codec/entry.codec.js';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { withTimeout } from '../harness/with-timeout.js';
import { reportDrill } from './support/processes.js';
import { engineOf } from '../support/cache-internals.js';
import type { CacheEngine } from '../support/cache-internals.js';

// Real servers, processes and fault injection: slower than a unit test, especially on a loaded machine.
jest.setTimeout(60_000);

const PREFIX = 'drill07';
type Profile = { id: number; name: string };

/** The database, shared by both instances; `timeline` records commits and rollbacks in order. */
const db = new Map<number, Profile>();
const timeline: string[] = [];
let gate: Promise<void> | undefined;
let onRead: (() => void) | undefined;

/** A transaction: writes and events are buffered; commit applies the writes, then emits the events. */
class Tx {
  readonly writes = new Map<number, Profile>();
  readonly outbox: [string, unknown][] = [];
  set(row: Profile): void {
    this.writes.set(row.id, row);
  }
  emitAfterCommit(event: string, payload: unknown): void {
    this.outbox.push([event, payload]);
  }
}

@Injectable()
class UnitOfWork {
  constructor(private readonly events: EventEmitter2) {}

  async run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const tx = new Tx();
    let result: T;
    try {
      result = await work(tx);
    } catch (err) {
      timeline.push('rollback');
      throw err;
    }
    for (const row of tx.writes.values()) db.set(row.id, row);
    timeline.push('commit');
    for (const [event, payload] of tx.outbox) await this.events.emitAsync(event, payload);
    timeline.push('events-done');
    return result;
  }
}

@Injectable()
class Profiles {
  loads = 0;
  otherLoads = 0;

  @Cached({
    namespace: 'profile',
    key: (id: number) => id,
    invalidateOn: {
      'profile.changed': (e: { id: number }) => e.id,
      // Handler bugs: a key function that throws, and one that returns something that is not a key.
      'profile.broken': (_e: { id: number }) => {
        throw new Error('key function bug');
      },
      // (A type error now — invalidateOn must return the method's key — so forced, as plain JS would send it.)
      'profile.null-key': (_e: { id: number }) => null as unknown as number,
    },
  })
  async get(id: number): Promise<Profile | null> {
    this.loads++;
    const row = db.get(id);
    onRead?.();
    if (gate) await gate;
    return row ? { ...row } : null;
  }

  @Cached({ namespace: 'other', key: (id: number) => id })
  async other(id: number): Promise<string> {
    this.otherLoads++;
    return `other-${id}`;
  }
}

interface Instance {
  name: string;
  app: INestApplicationContext;
  profiles: Profiles;
  uow: UnitOfWork;
  cache: CacheService;
  engine: CacheEngine;
  events: EventEmitter2;
  invalidated: (CacheInvalidatedEvent & { at: number })[];
}

const warnings: string[] = [];
const logger: LoggerService = {
  log: () => undefined,
  error: (m: unknown) => warnings.push(`error: ${String(m)}`),
  warn: (m: unknown) => warnings.push(String(m)),
  debug: () => undefined,
  verbose: () => undefined,
};

let redis: RedisServer;
let raw: Redis;
let a: Instance;
let b: Instance;
const figures: Record<string, unknown> = {};

async function boot(name: string): Promise<Instance> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      EventEmitterModule.forRoot(),
      CacheModule.forRoot({
        prefix: PREFIX,
        redis: redis.url,
        memory: { maxEntries: 1000 },
        logThrottle: 0,
        isGlobal: true,
      }),
    ],
    providers: [Profiles, UnitOfWork],
  }).compile();
  const app = moduleRef.createNestApplication({ logger });
  await app.init();
  const events = app.get(EventEmitter2);
  const invalidated: Instance['invalidated'] = [];
  events.on(CacheEvents.invalidated, (e: CacheInvalidatedEvent) => {
    invalidated.push({ ...e, at: timeline.length });
    timeline.push(`${name}:invalidated:${e.origin}`);
  });
  return {
    name,
    app,
    profiles: app.get(Profiles),
    uow: app.get(UnitOfWork),
    cache: app.get(CacheService),
    engine: engineOf(app),
    events,
    invalidated,
  };
}

/** Reads `id` on `i` and says which tier answered. */
async function readTier(
  i: Instance,
  id: number,
): Promise<{ value: Profile | null; tier: 'memory' | 'redis' | 'source' }> {
  const loads = i.profiles.loads;
  const memoryHits = i.cache.stats().namespaces['profile']?.memoryHits ?? 0;
  const value = await i.profiles.get(id);
  if (i.profiles.loads > loads) return { value, tier: 'source' };
  return { value, tier: (i.cache.stats().namespaces['profile']?.memoryHits ?? 0) > memoryHits ? 'memory' : 'redis' };
}

/** Fills `id` into Redis and both memory tiers (the memory tier serves once the bus is subscribed). */
async function warm(id: number): Promise<void> {
  for (const i of [a, b]) {
    await waitFor(async () => (await readTier(i, id)).tier === 'memory', {
      timeoutMs: 5_000,
      message: `${id} in ${i.name}'s memory tier`,
    });
  }
}

/** The names held for `id` by Redis and each memory tier ('-' when absent or a tombstone). */
async function held(id: number, namespace = 'profile'): Promise<string[]> {
  const k = a.engine.space.entry(namespace, id);
  const bytes = await raw.getBuffer(k);
  const inRedis = bytes === null || tombstoneId(bytes) !== null ? '-' : JSON.stringify(decodeEntry(bytes).value);
  return [inRedis, ...[a, b].map((i) => JSON.stringify(i.engine.store.memory?.peek(k)?.value ?? '-'))];
}

let markers = 0;
/** Resolves once `to` applied every bus message `from` published so far. */
async function drainBus(from: Instance, to: Instance): Promise<void> {
  const full = from.engine.space.entry('other', `marker-${++markers}`);
  const seen = new Promise<void>((resolve) => {
    const listener = (e: CacheInvalidatedEvent): void => {
      if (e.origin === 'remote' && e.keys?.includes(full)) {
        to.events.off(CacheEvents.invalidated, listener);
        resolve();
      }
    };
    to.events.on(CacheEvents.invalidated, listener);
  });
  await from.engine.invalidator.keys('other', [full]);
  await withTimeout(seen, 5_000, `bus marker ${from.name} → ${to.name}`);
}

beforeAll(async () => {
  redis = await RedisServer.start();
  raw = new Redis({ port: redis.port, lazyConnect: true, maxRetriesPerRequest: 0, disconnectTimeout: 0 });
  raw.on('error', () => undefined);
  await raw.connect();
  a = await boot('A');
  b = await boot('B');
});

afterAll(async () => {
  await a?.app.close();
  await b?.app.close();
  await raw?.quit();
  await redis?.stop();
  reportDrill('07', figures, `event ordering: ${JSON.stringify(figures)}`);
});

describe('drill 07: transactional invalidation events', () => {
  it('events of a transaction apply after its commit, on every instance and tier', async () => {
    db.set(1, { id: 1, name: 'ann' });
    await warm(1);
    timeline.length = 0;
    let readInside: Profile | null = null;
    let invalidatedInside = 0;
    await a.uow.run(async (tx) => {
      tx.set({ id: 1, name: 'ann v2' });
      tx.emitAfterCommit('profile.changed', { id: 1 });
      // Inside the transaction nothing is committed or invalidated yet: readers still get the committed row.
      readInside = await a.profiles.get(1);
      invalidatedInside = a.invalidated.length + b.invalidated.length;
    });
    expect(readInside).toEqual({ id: 1, name: 'ann' });
    expect(invalidatedInside).toBe(0);
    // The invalidation ran after the commit and before the transaction returned.
    expect(timeline.indexOf('commit')).toBeLessThan(timeline.indexOf('A:invalidated:local'));
    expect(timeline.indexOf('A:invalidated:local')).toBeLessThan(timeline.indexOf('events-done'));
    expect(await a.profiles.get(1)).toEqual({ id: 1, name: 'ann v2' });
    await drainBus(a, b);
    expect(timeline.indexOf('commit')).toBeLessThan(timeline.indexOf('B:invalidated:remote'));
    expect(await b.profiles.get(1)).toEqual({ id: 1, name: 'ann v2' });
    expect((await held(1)).filter((v) => v.includes('"ann"'))).toEqual([]);
    figures['commitThenInvalidate'] = timeline.slice(0, 6);
  });

  it('a loader that read before the commit does not re-cache the old row after the event', async () => {
    db.set(2, { id: 2, name: 'bo' });
    let open!: () => void;
    gate = new Promise<void>((resolve) => (open = resolve));
    const readStarted = new Promise<void>((resolve) => (onRead = resolve));
    const pending = b.profiles.get(2);
    await withTimeout(readStarted, 2_000, 'the loader to read');
    onRead = undefined;
    await a.uow.run(async (tx) => {
      tx.set({ id: 2, name: 'bo v2' });
      tx.emitAfterCommit('profile.changed', { id: 2 });
    });
    await drainBus(a, b);
    gate = undefined;
    open();
    expect(await pending).toEqual({ id: 2, name: 'bo' });
    expect(await b.profiles.get(2)).toEqual({ id: 2, name: 'bo v2' });
    expect(await a.profiles.get(2)).toEqual({ id: 2, name: 'bo v2' });
    expect((await held(2)).filter((v) => v.includes('"bo"'))).toEqual([]);
  });

  it('a rollback leaves no trace: no event, no invalidation, the cached row keeps serving', async () => {
    db.set(3, { id: 3, name: 'cy' });
    await warm(3);
    const before = {
      a: a.invalidated.length,
      b: b.invalidated.length,
      loadsA: a.profiles.loads,
      loadsB: b.profiles.loads,
    };
    const heldBefore = await held(3);
    await expect(
      a.uow.run(async (tx) => {
        tx.set({ id: 3, name: 'cy v2' });
        tx.emitAfterCommit('profile.changed', { id: 3 });
        tx.emitAfterCommit('profile.broken', { id: 3 });
        throw new Error('constraint violated');
      }),
    ).rejects.toThrow('constraint violated');
    await drainBus(a, b);
    await drainBus(b, a);
    const traces = [...a.invalidated.slice(before.a), ...b.invalidated.slice(before.b)].filter(
      (e) => e.namespace !== 'other' && !e.keys?.some((k) => k.includes(':other:')),
    );
    expect(traces).toEqual([]);
    expect(db.get(3)).toEqual({ id: 3, name: 'cy' });
    expect(await held(3)).toEqual(heldBefore);
    expect(await readTier(a, 3)).toEqual({ value: { id: 3, name: 'cy' }, tier: 'memory' });
    expect(await readTier(b, 3)).toEqual({ value: { id: 3, name: 'cy' }, tier: 'memory' });
    expect([a.profiles.loads, b.profiles.loads]).toEqual([before.loadsA, before.loadsB]);
    figures['rollbackInvalidations'] = traces.length;
  });

  it.each([
    ['throws', 'profile.broken'],
    ['returns null', 'profile.null-key'],
  ])(
    'an invalidateOn key function that %s escalates to a namespace clear on every tier, without crashing',
    async (_how, event) => {
      db.set(10, { id: 10, name: 'di' });
      db.set(11, { id: 11, name: 'ed' });
      await warm(10);
      await warm(11);
      await a.profiles.other(1);
      await b.profiles.other(1);
      const otherLoads = a.profiles.otherLoads + b.profiles.otherLoads;
      warnings.length = 0;
      db.set(10, { id: 10, name: 'di v2' });
      db.set(11, { id: 11, name: 'ed v2' });

      // The handler's promise resolves (never rejects: nothing escapes to unhandledRejection)…
      const started = performance.now();
      await expect(a.uow.run(async (tx) => tx.emitAfterCommit(event, { id: 10 }))).resolves.toBeUndefined();
      const escalationMs = performance.now() - started;
      // …and the whole namespace went, not silently nothing: every tier of both instances, and Redis.
      expect(await a.profiles.get(10)).toEqual({ id: 10, name: 'di v2' });
      expect(await a.profiles.get(11)).toEqual({ id: 11, name: 'ed v2' });
      await drainBus(a, b);
      expect(await b.profiles.get(10)).toEqual({ id: 10, name: 'di v2' });
      expect(await b.profiles.get(11)).toEqual({ id: 11, name: 'ed v2' });
      for (const id of [10, 11])
        expect((await held(id)).filter((v) => v.includes('"di"') || v.includes('"ed"'))).toEqual([]);
      // Other namespaces survive.
      await a.profiles.other(1);
      await b.profiles.other(1);
      expect(a.profiles.otherLoads + b.profiles.otherLoads).toBe(otherLoads);
      // Escalated loudly, naming the method and the event.
      expect(
        warnings.some(
          (w) => w.includes('Profiles#get') && w.includes(event) && w.includes('clearing namespace "profile"'),
        ),
      ).toBe(true);

      // Plain emit (fire and forget) of the same bug: the listener's rejection would be unhandled — it must not reject.
      await warm(10);
      const listeners = a.events.listeners(event) as ((payload: unknown) => unknown)[];
      expect(listeners.length).toBe(1);
      await expect(Promise.resolve(listeners[0]?.({ id: 10 }))).resolves.toBeUndefined();
      a.events.emit(event, { id: 10 });
      await waitFor(async () => (await readTier(a, 10)).tier === 'source', {
        timeoutMs: 2_000,
        message: 'the namespace clear after a plain emit',
      });
      figures[`escalation:${event}:ms`] = Math.round(escalationMs);
    },
  );
});
