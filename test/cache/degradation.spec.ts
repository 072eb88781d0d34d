import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import type { INestApplicationContext, LoggerService } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import vm from 'node:vm';
import { Cached, CacheModule, CacheService } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { freePort } from '../harness/free-port.js';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { withTimeout } from '../harness/with-timeout.js';

const COMMAND_TIMEOUT_MS = 200;
/** The bar of each call while Redis is dead or frozen. */
const CALL_BUDGET_MS = COMMAND_TIMEOUT_MS + 100;

/** The source behind the cache: counts loads, so a hit is visible as "the count did not grow". */
@Injectable()
class Catalog {
  loads = 0;

  @Cached({ namespace: 'item', key: (id: number) => id })
  async item(id: number): Promise<{ id: number; name: string }> {
    this.loads++;
    return { id, name: `item-${id}` };
  }
}

/** Keeps every line Nest's Logger receives, with its level. */
class CollectingLogger implements LoggerService {
  readonly lines: { level: string; text: string }[] = [];
  private add(level: string, message: unknown, rest: unknown[]): void {
    this.lines.push({
      level,
      text: [message, ...rest]
        .map((part) => (part instanceof Error ? `${part.message}\n${part.stack ?? ''}` : String(part)))
        .join(' '),
    });
  }
  log(message: unknown, ...rest: unknown[]): void {
    this.add('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.add('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.add('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.add('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.add('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.add('fatal', message, rest);
  }
}

async function boot(
  options: CacheModuleOptions,
  logger: LoggerService | false = false,
): Promise<INestApplicationContext> {
  const builder = Test.createTestingModule({
    imports: [
      EventEmitterModule.forRoot(),
      CacheModule.forRoot({ commandTimeout: COMMAND_TIMEOUT_MS, ...options, isGlobal: true }),
    ],
    providers: [Catalog],
  });
  if (logger) builder.setLogger(logger);
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication({ logger });
  await app.init();
  return app;
}

/** One timed call of the cached method (cut at 2 s, so a hanging call fails the test with a clear message). */
async function timed(catalog: Catalog, id: number): Promise<{ ms: number; value: unknown }> {
  const started = performance.now();
  const value = await withTimeout(catalog.item(id), 2_000, `Catalog#item(${id})`);
  return { ms: performance.now() - started, value };
}

type Call = { ms: number; id: number; value: unknown };

/** Calls the method with `lanes` concurrent callers until `until()` holds, recording each call into `calls`. */
async function steadyReads(catalog: Catalog, lanes: number, until: () => boolean, calls: Call[] = []): Promise<Call[]> {
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      for (let i = 0; !until(); i++) {
        const id = 1 + ((lane + i) % 5);
        calls.push({ id, ...(await timed(catalog, id)) });
        // A failing Redis answers at once: yield so timers (and the kill) get their turn.
        await yieldToLoop();
      }
    }),
  );
  return calls;
}

/** The cache is serving again once a call no longer reaches the source. */
async function waitForHit(catalog: Catalog, timeoutMs: number, message: string): Promise<void> {
  await waitFor(
    async () => {
      await catalog.item(1);
      const before = catalog.loads;
      await catalog.item(1);
      return catalog.loads === before;
    },
    { timeoutMs, intervalMs: 20, message },
  );
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] ?? NaN;
}

// The real process: Jest hands test code a copy whose listeners never fire.
const realProcess = vm.runInThisContext('process') as NodeJS.Process;
const escaped: string[] = [];
const onRejection = (reason: unknown): void => void escaped.push(`unhandledRejection: ${String(reason)}`);
const onException = (err: Error): void => void escaped.push(`uncaughtException: ${err.message}`);
beforeAll(() => {
  realProcess.on('unhandledRejection', onRejection);
  realProcess.on('uncaughtException', onException);
});
afterAll(() => {
  realProcess.off('unhandledRejection', onRejection);
  realProcess.off('uncaughtException', onException);
});
afterEach(() => {
  expect(escaped).toEqual([]);
});

/** Measured figures, printed once at the end for the report. */
const figures: Record<string, string> = {};
afterAll(() => {
  if (process.env['TIERCACHE_FIGURES']) console.log(JSON.stringify(figures, null, 2));
});

describe('Redis absent at boot', () => {
  it('boots within 3 s and serves from the source without an exception', async () => {
    const port = await freePort();
    const started = performance.now();
    const app = await boot({ prefix: 'deg-absent', redis: `redis://127.0.0.1:${port}` });
    const bootMs = performance.now() - started;
    try {
      expect(bootMs).toBeLessThan(3_000);
      const catalog = app.get(Catalog);
      const calls = [await timed(catalog, 1), await timed(catalog, 1), await timed(catalog, 2)];
      expect(calls.map((c) => c.value)).toEqual([
        { id: 1, name: 'item-1' },
        { id: 1, name: 'item-1' },
        { id: 2, name: 'item-2' },
      ]);
      expect(catalog.loads).toBe(3);
      for (const call of calls) expect(call.ms).toBeLessThan(CALL_BUDGET_MS);
      expect(app.get(CacheService).stats().redisConnected).toBe(false);
      figures['absent: boot ms'] = bootMs.toFixed(0);
      figures['absent: max call ms'] = Math.max(...calls.map((c) => c.ms)).toFixed(1);
    } finally {
      await app.close();
    }
  });
});

describe.each([
  ['Redis only', (url: string): CacheModuleOptions => ({ prefix: 'deg-kill', redis: url })],
  [
    'Redis + memory tier',
    (url: string): CacheModuleOptions => ({ prefix: 'deg-kill-tier', redis: url, memory: { maxEntries: 1000 } }),
  ],
])('Redis killed (SIGKILL) during steady reads: %s', (mode, options) => {
  let server: RedisServer;
  let app: INestApplicationContext;

  beforeAll(async () => {
    server = await RedisServer.start();
    app = await boot(options(server.url));
  });
  afterAll(async () => {
    await app.close();
    await server.stop();
  });

  it('every call answers with the source value within the command timeout; the cache resumes by itself after restart', async () => {
    const catalog = app.get(Catalog);
    for (let id = 1; id <= 5; id++) await catalog.item(id);
    await waitForHit(catalog, 2_000, 'the warm cache to hit');
    const warmLoads = catalog.loads;

    let killedAt = Infinity;
    const calls: Call[] = [];
    const reads = steadyReads(catalog, 8, () => performance.now() > killedAt + 600, calls);
    // Let the steady reads run against a live Redis first (all hits), then pull the plug under them.
    await waitFor(() => calls.length >= 40, { timeoutMs: 2_000, message: 'steady reads before the kill' });
    expect(catalog.loads).toBe(warmLoads);
    const beforeKill = calls.length;
    await server.kill();
    killedAt = performance.now();
    await reads;

    const after = calls.slice(beforeKill);
    expect(after.length).toBeGreaterThan(20);
    for (const call of calls.slice(0, beforeKill)) expect(call.value).toEqual({ id: call.id, name: `item-${call.id}` });
    for (const call of after) expect(call.value).toEqual({ id: call.id, name: `item-${call.id}` });
    expect(catalog.loads).toBeGreaterThan(warmLoads);
    const slowest = Math.max(...after.map((c) => c.ms));
    expect(slowest).toBeLessThan(CALL_BUDGET_MS);

    const restartedAt = performance.now();
    await server.restart();
    const upAt = performance.now();
    await waitForHit(catalog, 5_000, 'the cache to serve hits again after the restart');
    const recoveredMs = performance.now() - upAt;

    figures[`kill/${mode}: calls`] = String(after.length);
    figures[`kill/${mode}: max call ms`] = slowest.toFixed(1);
    figures[`kill/${mode}: p50 call ms`] = percentile(
      after.map((c) => c.ms),
      0.5,
    ).toFixed(2);
    figures[`kill/${mode}: restart ms`] = (upAt - restartedAt).toFixed(0);
    figures[`kill/${mode}: recovery after restart ms`] = recoveredMs.toFixed(0);
  });
});

describe('Redis frozen (SIGSTOP)', () => {
  let server: RedisServer;
  let app: INestApplicationContext;

  beforeAll(async () => {
    server = await RedisServer.start();
    app = await boot({ prefix: 'deg-freeze', redis: server.url });
  });
  afterAll(async () => {
    server.thaw();
    await app.close();
    await server.stop();
  });

  it('calls answer within the command timeout with the source value; after thaw the cache works again', async () => {
    const catalog = app.get(Catalog);
    for (let id = 1; id <= 5; id++) await catalog.item(id);
    await waitForHit(catalog, 2_000, 'the warm cache to hit');

    server.freeze();
    const frozenAt = performance.now();
    const calls = await steadyReads(catalog, 4, () => performance.now() > frozenAt + 800);
    server.thaw();
    const thawedAt = performance.now();

    expect(calls.length).toBeGreaterThan(4);
    for (const call of calls) expect(call.value).toEqual({ id: call.id, name: `item-${call.id}` });
    const slowest = Math.max(...calls.map((c) => c.ms));
    figures['freeze: calls'] = String(calls.length);
    figures['freeze: max call ms'] = slowest.toFixed(1);
    figures['freeze: p50 call ms'] = percentile(
      calls.map((c) => c.ms),
      0.5,
    ).toFixed(2);
    expect(slowest).toBeLessThan(CALL_BUDGET_MS);

    await waitForHit(catalog, 5_000, 'the cache to serve hits again after thaw');
    figures['freeze: recovery after thaw ms'] = (performance.now() - thawedAt).toFixed(0);
    expect(await catalog.item(3)).toEqual({ id: 3, name: 'item-3' });
  });
});

describe('warnings while Redis is down', () => {
  const PASSWORD = 's3cret-pw';
  let server: RedisServer;

  beforeAll(async () => {
    server = await RedisServer.start({ password: PASSWORD });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('200 failing calls log a few rate-limited warnings, none with the password', async () => {
    const logger = new CollectingLogger();
    const app = await boot({ prefix: 'deg-log', redis: `redis://:${PASSWORD}@127.0.0.1:${server.port}` }, logger);
    try {
      const catalog = app.get(Catalog);
      await catalog.item(1);
      await waitForHit(catalog, 2_000, 'the cache to hit with the password');
      const loadsBefore = catalog.loads;

      await server.kill();
      const warningsBefore = logger.lines.filter((l) => l.level === 'warn').length;
      for (let i = 0; i < 200; i++)
        expect(await catalog.item(1 + (i % 10))).toEqual({ id: 1 + (i % 10), name: `item-${1 + (i % 10)}` });
      expect(catalog.loads).toBe(loadsBefore + 200);

      const warnings = logger.lines.filter((l) => l.level === 'warn').slice(warningsBefore);
      figures['log: warnings for 200 failing calls'] = String(warnings.length);
      figures['log: lines in total'] = String(logger.lines.length);
      figures['log: warning lines'] = warnings.map((w) => w.text).join(' | ');
      expect(warnings.length).toBeGreaterThan(0);
      expect(warnings.length).toBeLessThanOrEqual(5);
      expect(logger.lines.filter((l) => l.text.includes(PASSWORD))).toEqual([]);
      expect(app.get(CacheService).stats().namespaces['item']?.errors ?? 0).toBeGreaterThan(0);
    } finally {
      await app.close();
    }
    expect(logger.lines.filter((l) => l.text.includes(PASSWORD))).toEqual([]);
  });
});
