/**
 * Drill 2 — Freeze: SIGSTOP Redis, and separately black-hole the TCP proxy, for a scaled 6 s (the bar says 30 s).
 * Bar: every cache op ends within its timeout; per request the total cache time is ≤ one timeout (no stacking: a
 * miss whose read timed out does not also wait on its write); after SIGCONT / restore no command queued during the
 * freeze executes — marker writes sent into the frozen socket never land (the Lua `notAfter` deadline refuses them),
 * and the keys hold the source's value after recovery.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { Cached, CachePut, CacheService } from 'nestjs-tiercache';
import { RedisServer } from '../harness/redis-server.js';
import { TcpProxy } from '../harness/tcp-proxy.js';
import { waitFor } from '../harness/wait-for.js';
import {
  bootApp,
  COMMAND_TIMEOUT_MS,
  DrillReporter,
  loaderSection,
  loadLoop,
  round,
  SLACK_MS,
  startMonitor,
  summary,
  timed,
  watchEscapes,
} from './support/faults.js';
import type { TimedCall } from './support/faults.js';
import { entryKey } from '../support/cache-internals.js';

const FREEZE_MS = 6_000;
const BUDGET_MS = COMMAND_TIMEOUT_MS + SLACK_MS;

type Account = { id: number; balance: number };

@Injectable()
class Accounts {
  readonly db = new Map<number, Account>();

  @Cached({ namespace: 'acct', key: (id: number) => id })
  async get(id: number): Promise<Account | null> {
    return loaderSection(() => this.db.get(id) ?? null);
  }

  @CachePut({ namespace: 'acct', key: (id: number) => id })
  async setBalance(id: number, balance: number): Promise<Account> {
    return loaderSection(() => {
      const row = { id, balance };
      this.db.set(id, row);
      return row;
    });
  }
}

const feedLoader = (id: number) => () => loaderSection(() => [`post-${id}-1`, `post-${id}-2`]);

const reporter = new DrillReporter('02-freeze');
const escapes = watchEscapes();
afterAll(() => escapes.stop());

interface Fault {
  start(): void;
  stop(): void;
}

describe.each([
  ['SIGSTOP', 'direct'],
  ['blackhole', 'proxy'],
] as const)('drill 2: %s for 6 s', (kind, route) => {
  let server: RedisServer;
  let proxy: TcpProxy | undefined;
  let app: INestApplication;
  let fault: Fault;
  const prefix = `d02-${kind.toLowerCase()}`;

  beforeAll(async () => {
    server = await RedisServer.start();
    proxy = route === 'proxy' ? await TcpProxy.start(server.port) : undefined;
    const url = `redis://127.0.0.1:${proxy?.port ?? server.port}`;
    // threshold 10: the first requests of the freeze really reach the frozen socket (3 would short-circuit them).
    app = await bootApp(
      { prefix, redis: url, memory: { maxEntries: 1000 }, breaker: { threshold: 10 } },
      { providers: [Accounts] },
    );
    fault = proxy
      ? { start: () => proxy?.blackhole(), stop: () => proxy?.restore() }
      : { start: () => server.freeze(), stop: () => server.thaw() };
  });
  afterAll(async () => {
    fault?.stop();
    await app?.close();
    await proxy?.close();
    await server?.stop();
  });

  /** A list miss measured in the freeze, asserted in its own test. */
  let listMiss: TimedCall<string[]> | undefined;

  it('every op ends within one timeout; marker writes sent into the freeze never land; keys hold the source value after', async () => {
    const accounts = app.get(Accounts);
    const cache = app.get(CacheService);
    for (let id = 1; id <= 20; id++) accounts.db.set(id, { id, balance: 100 });
    for (let id = 1; id <= 20; id++) await accounts.get(id);
    // Load every script into Redis before the freeze, so the late commands are the scripts themselves (not NOSCRIPT).
    await cache.set('acct', 999_999, { id: 999_999, balance: 0 });
    await cache.getOrSetList('feed', 999_999, feedLoader(999_999), { maxLength: 10 });
    const marker = `MARKER-${kind}-${Date.now()}`;
    const monitor = await startMonitor(server.port);
    try {
      fault.start();
      const frozenAt = performance.now();

      // Single requests while the breaker is still closed: each reaches the frozen socket.
      const missGet = await timed(() => accounts.get(1_001));
      listMiss = await timed(() => cache.getOrSetList('feed', 1_001, feedLoader(1_001), { maxLength: 10 }));
      const [markerSet, put] = await Promise.all([
        timed(() => cache.set('acct', 1, { id: 1, balance: marker })),
        timed(() => accounts.setBalance(2, 999)),
      ]);
      expect(missGet.value).toBeNull();
      expect(listMiss.value).toEqual(['post-1001-1', 'post-1001-2']);
      expect(markerSet.value).toBe(false);
      expect(put.value).toEqual({ id: 2, balance: 999 });
      for (const c of [missGet, markerSet, put]) {
        expect(c.error).toBeUndefined();
        expect(c.cacheMs).toBeLessThanOrEqual(BUDGET_MS);
      }
      // The marker write timed out (it did not short-circuit): it sits in the frozen socket.
      expect(markerSet.cacheMs).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 5);

      // The rest of the freeze: 4 readers and a writer on distinct keys.
      const calls: TimedCall<unknown>[] = [];
      const steps = await loadLoop(
        5,
        () => performance.now() > frozenAt + FREEZE_MS,
        async (lane, i) => {
          if (lane === 4) calls.push(await timed(() => accounts.setBalance(3, 100 + i)));
          else calls.push(await timed(() => accounts.get(lane === 0 ? 2_000 + i : 1 + ((lane * 5 + i) % 20))));
          if (lane === 4) await new Promise<void>((resolve) => setTimeout(resolve, 20));
        },
      );
      const thawedAt = performance.now();
      fault.stop();
      const frozen = summary(calls.map((c) => c.cacheMs));
      expect(calls.filter((c) => c.error !== undefined).map((c) => String(c.error))).toEqual([]);
      expect(frozen.max).toBeLessThanOrEqual(BUDGET_MS);

      // Recovery: once Redis answers, the breaker closes and the invalidations queued in the freeze are replayed.
      await waitFor(
        async () => (
          await accounts.get(7),
          cache.stats().pendingInvalidations === 0 && cache.stats().breaker === 'closed'
        ),
        { timeoutMs: 5_000, message: 'the replay queue to drain after the freeze' },
      );
      // A hit on the same connection: everything sent before it (the late commands included) has executed by now.
      await waitFor(async () => (await cache.get('acct', 7)) !== undefined, {
        timeoutMs: 3_000,
        message: 'a hit after recovery',
      });
      const recoveredMs = performance.now() - thawedAt;

      const mentions = (c: { args: string[] }): boolean => c.args.some((a) => a.includes(marker));
      const lateScripts = monitor.commands.filter((c) => /^eval/i.test(c.args[0] ?? '') && mentions(c));
      const landed = monitor.commands.filter(
        (c) => c.source === 'lua' && /^set$/i.test(c.args[0] ?? '') && mentions(c),
      );
      expect(landed).toEqual([]);
      if (kind === 'SIGSTOP') expect(lateScripts.length).toBeGreaterThanOrEqual(1);
      const raw = (await server.command('GET', entryKey(app, 'acct', 1))) as string | null;
      expect(raw ?? '').not.toContain(marker);

      // The keys hold the source's values after recovery.
      expect(await accounts.get(1)).toEqual({ id: 1, balance: 100 });
      expect(await accounts.get(2)).toEqual({ id: 2, balance: 999 });
      expect(await accounts.get(3)).toEqual(accounts.db.get(3));
      for (const id of [1, 2, 3]) {
        const stored = (await server.command('GET', entryKey(app, 'acct', id))) as string | null;
        // Absent, a tombstone ('T\x00'), or the source's value.
        if (stored !== null && !stored.startsWith('T\u0000'))
          expect(stored).toContain(`"balance":${accounts.db.get(id)?.balance}`);
      }
      expect(escapes.escaped).toEqual([]);

      reporter.add(kind, {
        freezeMs: FREEZE_MS,
        timeoutMs: COMMAND_TIMEOUT_MS,
        missGetCacheMs: round(missGet.cacheMs, 1),
        listMissCacheMs: round(listMiss.cacheMs, 1),
        markerSetCacheMs: round(markerSet.cacheMs, 1),
        cachePutCacheMs: round(put.cacheMs, 1),
        callsInFreeze: steps,
        cacheMsMedian: frozen.median,
        cacheMsP99: frozen.p99,
        cacheMsMax: frozen.max,
        lateMarkerScriptsExecuted: lateScripts.length,
        markerWritesLanded: landed.length,
        recoveredMs: round(recoveredMs, 0),
        errorsSurfaced: calls.filter((c) => c.error !== undefined).length,
      });
    } finally {
      await monitor.stop();
    }
  }, 30_000);

  it('a list miss whose read timed out does not wait a second timeout on its write', () => {
    expect(listMiss?.error).toBeUndefined();
    expect(listMiss?.cacheMs).toBeLessThanOrEqual(BUDGET_MS);
  });
});

describe('drill 2: a blip too short to open the breaker', () => {
  let server: RedisServer;
  let app: INestApplication;

  beforeAll(async () => {
    server = await RedisServer.start();
    app = await bootApp({ prefix: 'd02-blip', redis: server.url }, { providers: [Accounts] });
  });
  afterAll(async () => {
    server?.thaw();
    await app?.close();
    await server?.stop();
  });

  it('a write-through that timed out is replayed once Redis answers again (no stale value afterwards)', async () => {
    const accounts = app.get(Accounts);
    const cache = app.get(CacheService);
    accounts.db.set(1, { id: 1, balance: 100 });
    await accounts.get(1);
    await waitFor(async () => (await cache.get('acct', 1)) !== undefined, { message: 'the value cached' });

    server.freeze();
    const frozenAt = performance.now();
    const put = await timed(() => accounts.setBalance(1, 50));
    // Hold the freeze past the write's deadline (timeout + 500 ms margin), so Redis refuses it when it wakes.
    await waitFor(() => performance.now() - frozenAt > 1_000, { message: 'the freeze to outlast the write deadline' });
    server.thaw();
    expect(put.value).toEqual({ id: 1, balance: 50 });
    expect(cache.stats().breaker).toBe('closed');

    // The first call after the thaw succeeds on Redis (possibly still reading the old value) and triggers the replay;
    // from the next call on the old value is gone.
    const started = performance.now();
    let staleReads = 0;
    await waitFor(
      async () => {
        const balance = (await accounts.get(1))?.balance;
        if (balance !== 50) staleReads++;
        return balance === 50;
      },
      { timeoutMs: 3_000, message: 'the new balance to be served' },
    );
    expect(staleReads).toBeLessThanOrEqual(1);
    for (let i = 0; i < 5; i++) expect(await accounts.get(1)).toEqual({ id: 1, balance: 50 });
    // The replay runs beside these calls (a call while it is pending answers from the source and sends nothing, so
    // they may all finish before its one round trip does): it must finish, and nothing stay queued.
    await waitFor(() => cache.stats().pendingInvalidations === 0, {
      timeoutMs: 3_000,
      message: 'the replay to finish',
    });
    reporter.add('blip', {
      putCacheMs: round(put.cacheMs, 1),
      staleReadsAfterThaw: staleReads,
      freshAfterMs: round(performance.now() - started, 0),
    });
  }, 15_000);
});
