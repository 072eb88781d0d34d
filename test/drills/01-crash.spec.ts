/**
 * Drill 1 — Crash: SIGKILL Redis during steady cached reads (Redis only, and Redis + memory tier).
 * Bar: 0 errors surfaced; each call answers within the command timeout (also once the circuit breaker is open, when
 * no call waits on Redis: the cache's overhead per call is measured and reported, not bounded, as sub-ms figures
 * depend on the machine's load); no unhandledRejection/uncaughtException on any connection (bus subscriber
 * included); Redis use resumes ≤ 2 s after restart.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { Cached, CacheService } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { withTimeout } from '../harness/with-timeout.js';
import {
  bootApp,
  COMMAND_TIMEOUT_MS,
  CollectingLogger,
  DrillReporter,
  loaderSection,
  loadLoop,
  maxOf,
  round,
  SLACK_MS,
  summary,
  timed,
  watchEscapes,
} from './support/faults.js';
import type { TimedCall } from './support/faults.js';

type Item = { id: number; name: string };

@Injectable()
class Catalog {
  loads = 0;

  @Cached({ namespace: 'item', key: (id: number) => id })
  async item(id: number): Promise<Item> {
    return loaderSection(() => {
      this.loads++;
      return { id, name: `item-${id}` };
    });
  }
}

const reporter = new DrillReporter('01-crash');
/** Concurrent readers around the kill. */
const LANES = 8;
const escapes = watchEscapes();
afterAll(() => escapes.stop());

/** A hit is a call that does not reach the source. */
async function isHit(catalog: Catalog, id: number): Promise<boolean> {
  await catalog.item(id);
  const before = catalog.loads;
  await catalog.item(id);
  return catalog.loads === before;
}

describe.each([
  ['redis-only', (url: string): CacheModuleOptions => ({ prefix: 'd01-r', redis: url })],
  [
    'redis+memory',
    (url: string): CacheModuleOptions => ({ prefix: 'd01-m', redis: url, memory: { maxEntries: 1000 } }),
  ],
])('drill 1: SIGKILL during steady reads (%s)', (mode, options) => {
  let server: RedisServer;
  let app: INestApplication;
  const logger = new CollectingLogger();

  beforeAll(async () => {
    server = await RedisServer.start();
    app = await bootApp(options(server.url), { providers: [Catalog], logger });
  });
  afterAll(async () => {
    await app?.close();
    await server?.stop();
  });

  it('0 errors, every call within the timeout (breaker open too, overhead reported), resumes ≤ 2 s after restart', async () => {
    const catalog = app.get(Catalog);
    const cache = app.get(CacheService);
    for (let id = 1; id <= 20; id++) await catalog.item(id);
    await waitFor(() => isHit(catalog, 1), { timeoutMs: 2_000, message: 'the warm cache to hit' });
    const warmLoads = catalog.loads;

    // Phase 1: 8 concurrent readers; SIGKILL under them; keep reading 1 s past the kill.
    const calls: (TimedCall<Item> & { id: number; at: number })[] = [];
    let killedAt = Infinity;
    const reads = loadLoop(
      LANES,
      () => performance.now() > killedAt + 1_000,
      async (lane, i) => {
        const id = 1 + ((lane * 7 + i) % 20);
        calls.push({ id, at: performance.now(), ...(await timed(() => catalog.item(id))) });
      },
    );
    await waitFor(() => calls.length >= 200, { timeoutMs: 3_000, message: 'steady reads before the kill' });
    expect(catalog.loads).toBe(warmLoads);
    await server.kill();
    killedAt = performance.now();
    await reads;

    const afterKill = calls.filter((c) => c.at + c.ms >= killedAt);
    const errors = calls.filter((c) => c.error !== undefined);
    expect(errors.map((c) => String(c.error))).toEqual([]);
    for (const c of calls) expect(c.value).toEqual({ id: c.id, name: `item-${c.id}` });
    // Every lane was reading across the kill (how many calls fit in that second depends on the machine: reported).
    expect(afterKill.length).toBeGreaterThanOrEqual(LANES);
    const slowest = maxOf(afterKill.map((c) => c.ms));
    expect(slowest).toBeLessThan(COMMAND_TIMEOUT_MS + SLACK_MS);
    expect(catalog.loads).toBeGreaterThan(warmLoads);

    // Phase 2: breaker open — sequential calls, overhead = call time minus the loader's own time (reported). Each
    // call must answer (a hang is cut at the bound and fails as an error) within the command timeout plus slack.
    await waitFor(() => cache.stats().breaker === 'open', { timeoutMs: 2_000, message: 'the breaker to open' });
    const overhead: number[] = [];
    const openCallMs: number[] = [];
    let i = 0;
    const openUntil = performance.now() + 1_000;
    while (performance.now() < openUntil) {
      const id = 1 + (i++ % 50);
      const c = await timed(() =>
        withTimeout(catalog.item(id), COMMAND_TIMEOUT_MS + SLACK_MS, `item(${id}) with the breaker open`),
      );
      expect(c.error).toBeUndefined();
      expect(c.value).toEqual({ id, name: `item-${id}` });
      overhead.push(c.cacheMs);
      openCallMs.push(c.ms);
      if (i % 200 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const open = summary(overhead);
    expect(open.n).toBeGreaterThan(0);
    expect(maxOf(openCallMs)).toBeLessThan(COMMAND_TIMEOUT_MS + SLACK_MS);

    // Both connections (the bus subscriber too, with the memory tier) saw the crash and keep reconnecting.
    const roles = mode === 'redis+memory' ? ['main', 'bus'] : ['main'];
    for (const role of roles) {
      const connection = role === 'bus' ? 'Redis bus connection error' : 'Redis connection error';
      await waitFor(() => logger.matching(new RegExp(`^${connection}: .*ECONNREFUSED`), 'warn').length > 0, {
        timeoutMs: 3_000,
        message: `reconnect errors on the ${role} connection`,
      });
    }
    const downFor = performance.now() - killedAt;

    // Phase 3: restart; Redis use resumes (a second call no longer reaches the source).
    await server.restart();
    const upAt = performance.now();
    await waitFor(() => isHit(catalog, 3), { timeoutMs: 2_000, intervalMs: 5, message: 'hits after the restart' });
    const resumedMs = performance.now() - upAt;
    expect(resumedMs).toBeLessThanOrEqual(2_000);
    expect(cache.stats().breaker).toBe('closed');
    expect(escapes.escaped).toEqual([]);

    reporter.add(mode, {
      callsAroundKill: afterKill.length,
      errorsSurfaced: errors.length,
      maxCallMsAfterKill: round(slowest, 1),
      timeoutMs: COMMAND_TIMEOUT_MS,
      openCalls: open.n,
      openOverheadMedianMs: open.median,
      openOverheadP99Ms: open.p99,
      openOverheadMaxMs: open.max,
      openMaxCallMs: round(maxOf(openCallMs), 1),
      downMs: round(downFor, 0),
      resumeAfterRestartMs: round(resumedMs, 0),
      escapes: escapes.escaped.length,
    });
  }, 30_000);
});
