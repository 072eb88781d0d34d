/**
 * Drill 1 — Crash: SIGKILL Redis during steady cached reads (Redis only, and Redis + memory tier).
 * Bar: 0 errors surfaced; each call answers within the command timeout; ≤ 1 ms of cache overhead per call once the
 * circuit breaker is open; no unhandledRejection/uncaughtException on any connection (bus subscriber included);
 * Redis use resumes ≤ 2 s after restart.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { Cached, CacheService } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
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

  it('0 errors, every call within the timeout, ≤ 1 ms overhead with the breaker open, resumes ≤ 2 s after restart', async () => {
    const catalog = app.get(Catalog);
    const cache = app.get(CacheService);
    for (let id = 1; id <= 20; id++) await catalog.item(id);
    await waitFor(() => isHit(catalog, 1), { timeoutMs: 2_000, message: 'the warm cache to hit' });
    const warmLoads = catalog.loads;

    // Phase 1: 8 concurrent readers; SIGKILL under them; keep reading 1 s past the kill.
    const calls: (TimedCall<Item> & { id: number; at: number })[] = [];
    let killedAt = Infinity;
    const reads = loadLoop(
      8,
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
    expect(afterKill.length).toBeGreaterThan(100);
    const slowest = maxOf(afterKill.map((c) => c.ms));
    expect(slowest).toBeLessThan(COMMAND_TIMEOUT_MS + SLACK_MS);
    expect(catalog.loads).toBeGreaterThan(warmLoads);

    // Phase 2: breaker open — sequential calls, overhead = call time minus the loader's own time.
    await waitFor(() => cache.stats().breaker === 'open', { timeoutMs: 2_000, message: 'the breaker to open' });
    const overhead: number[] = [];
    let i = 0;
    const openUntil = performance.now() + 1_000;
    while (performance.now() < openUntil) {
      const c = await timed(() => catalog.item(1 + (i++ % 50)));
      expect(c.error).toBeUndefined();
      overhead.push(c.cacheMs);
      if (i % 200 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const open = summary(overhead);
    expect(open.median).toBeLessThanOrEqual(1);
    expect(open.p99).toBeLessThanOrEqual(1);

    // Both connections (the bus subscriber too, with the memory tier) saw the crash and keep reconnecting.
    const roles = mode === 'redis+memory' ? ['main', 'bus'] : ['main'];
    for (const role of roles) {
      await waitFor(() => logger.matching(new RegExp(`^redis ${role}: .*ECONNREFUSED`), 'debug').length > 0, {
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
      downMs: round(downFor, 0),
      resumeAfterRestartMs: round(resumedMs, 0),
      escapes: escapes.escaped.length,
    });
  }, 30_000);
});
