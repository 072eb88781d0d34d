/**
 * Drill 4 — Redis absent at boot, wrong password, password rotated while running.
 * Bar: the app boots and serves from the source; health reports Redis degraded; reconnects back off (no tight
 * loop); the password appears in no log line, no error, no /health payload and no /metrics text.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Header, Inject, Injectable } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import type { HealthCheckResult } from '@nestjs/terminus';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import { Registry } from 'prom-client';
import request from 'supertest';
import { Cached } from 'nestjs-tiercache';
import { CacheHealthIndicator, CacheHealthModule } from 'nestjs-tiercache/health';
import { CACHE_METRICS, CacheMetricsModule } from 'nestjs-tiercache/metrics';
import type { CacheMetrics } from 'nestjs-tiercache/metrics';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { freePort } from '../harness/free-port.js';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { engineOf } from '../support/cache-internals.js';
import {
  bootApp,
  COMMAND_TIMEOUT_MS,
  CollectingLogger,
  DrillReporter,
  info,
  loaderSection,
  loadLoop,
  round,
  SLACK_MS,
  timed,
  watchEscapes,
} from './support/faults.js';

@Injectable()
class Catalog {
  loads = 0;

  @Cached({ namespace: 'item', key: (id: number) => id })
  async item(id: number): Promise<{ id: number; name: string }> {
    return loaderSection(() => {
      this.loads++;
      return { id, name: `item-${id}` };
    });
  }
}

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly cache: CacheHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.cache.isHealthy('cache')]);
  }
}

@Controller('metrics')
class MetricsController {
  constructor(@Inject(CACHE_METRICS) private readonly metrics: CacheMetrics) {}

  @Get()
  @Header('Content-Type', 'text/plain')
  async scrape(): Promise<string> {
    await this.metrics.refresh();
    return this.metrics.registry.metrics();
  }
}

const reporter = new DrillReporter('04-auth');
const escapes = watchEscapes();
afterAll(() => escapes.stop());

const WINDOW_MS = 3_000;
/** Per connection, at most this many attempts in the window (a tight loop makes hundreds). */
const MAX_ATTEMPTS_PER_CONNECTION = 12;

/** An app with /health (Terminus + CacheHealthModule) and /metrics (CacheMetricsModule on its own registry). */
async function boot(
  cache: CacheModuleOptions,
  logger: CollectingLogger,
): Promise<{ app: INestApplication; errors: Error[]; bootMs: number }> {
  const started = performance.now();
  const app = await bootApp(cache, {
    providers: [Catalog],
    controllers: [HealthController, MetricsController],
    imports: [
      TerminusModule.forRoot(),
      CacheHealthModule.forRoot({ timeout: '500ms' }),
      CacheMetricsModule.forRoot({ registry: new Registry(), refreshInterval: 0 }),
    ],
    logger,
  });
  const bootMs = performance.now() - started;
  const errors: Error[] = [];
  engineOf(app).store.redis?.on('error', (err: Error) => errors.push(err));
  return { app, errors, bootMs };
}

/** Calls answer from the source (no hit), each within the command timeout. */
async function expectServedFromSource(app: INestApplication): Promise<number> {
  const catalog = app.get(Catalog);
  const before = catalog.loads;
  let slowest = 0;
  for (let i = 0; i < 20; i++) {
    const id = 1 + (i % 4);
    const call = await timed(() => catalog.item(id));
    expect(call.error).toBeUndefined();
    expect(call.value).toEqual({ id, name: `item-${id}` });
    slowest = Math.max(slowest, call.ms);
  }
  expect(catalog.loads).toBe(before + 20);
  expect(slowest).toBeLessThan(COMMAND_TIMEOUT_MS + SLACK_MS);
  return slowest;
}

async function health(app: INestApplication): Promise<{ code: number; mode: unknown; text: string }> {
  const res = await request(app.getHttpServer()).get('/health');
  const body = res.body as { details?: { cache?: { mode?: unknown } } };
  return { code: res.status, mode: body.details?.cache?.mode, text: res.text };
}

async function metricsText(app: INestApplication): Promise<string> {
  const res = await request(app.getHttpServer()).get('/metrics').expect(200);
  return res.text;
}

/** None of the secrets in any log line, error (message + stack), /health or /metrics. */
async function expectNoSecret(
  secrets: string[],
  app: INestApplication,
  logger: CollectingLogger,
  errors: Error[],
): Promise<{ ioredisErrorObjectsCarrySecret: boolean }> {
  const surfaces = {
    logs: logger.text,
    errors: errors.map((e) => `${e.message}\n${e.stack ?? ''}`).join('\n'),
    health: (await health(app)).text,
    metrics: await metricsText(app),
  };
  for (const secret of secrets)
    for (const [where, text] of Object.entries(surfaces))
      expect({ where, leaks: text.includes(secret) }).toEqual({ where, leaks: false });
  // ioredis keeps the failed handshake command (AUTH/HELLO with the password) on its error objects: scrubbed.
  const carries = errors.some((e) => secrets.some((s) => inspect(e, { depth: 5 }).includes(s)));
  expect(carries).toBe(false);
  return { ioredisErrorObjectsCarrySecret: carries };
}

/** The counting window: callers keep using the app (every call must answer from the source) for WINDOW_MS. */
async function trafficWindow(app: INestApplication): Promise<void> {
  const catalog = app.get(Catalog);
  const end = performance.now() + WINDOW_MS;
  await loadLoop(
    2,
    () => performance.now() > end,
    async (lane, i) => {
      const call = await timed(() => catalog.item(100 + lane * 1000 + i));
      expect(call.error).toBeUndefined();
      expect(call.ms).toBeLessThan(COMMAND_TIMEOUT_MS + SLACK_MS);
      await sleep(10);
    },
  );
}

/** Connections the server accepted during the window (INFO's own connection taken out). */
async function connectionsDuring(server: RedisServer, password: string, app: INestApplication): Promise<number> {
  const before = Number((await info(server, 'stats', password))['total_connections_received']);
  await trafficWindow(app);
  const after = Number((await info(server, 'stats', password))['total_connections_received']);
  return after - before - 1;
}

describe('drill 4: Redis absent at boot', () => {
  it('boots, serves from the source, reports degraded, backs off, recovers when Redis appears; no password anywhere', async () => {
    const password = 'absent-pw-7f3a9c';
    const port = await freePort();
    const logger = new CollectingLogger();
    const { app, errors, bootMs } = await boot(
      { prefix: 'd04-absent', redis: `redis://:${password}@127.0.0.1:${port}`, memory: { maxEntries: 100 } },
      logger,
    );
    let server: RedisServer | undefined;
    try {
      expect(bootMs).toBeLessThan(3_000);
      const slowest = await expectServedFromSource(app);
      const h = await health(app);
      expect(h.code).toBe(200);
      expect(h.mode).toBe('degraded');

      // Reconnect attempts of the main connection over the window, with the delay ioredis schedules for each.
      const delays: number[] = [];
      const client = engineOf(app).store.redis;
      const onReconnecting = (delay: number): void => void delays.push(delay);
      client?.on('reconnecting', onReconnecting);
      await trafficWindow(app);
      client?.off('reconnecting', onReconnecting);
      expect(delays.length).toBeGreaterThan(0);
      expect(delays.length).toBeLessThanOrEqual(MAX_ATTEMPTS_PER_CONNECTION);
      expect(Math.max(...delays)).toBeGreaterThanOrEqual(500);

      const { ioredisErrorObjectsCarrySecret } = await expectNoSecret([password], app, logger, errors);
      expect(errors.length).toBeGreaterThan(0);

      // Redis appears: the cache is used within the capped backoff.
      server = await RedisServer.start({ port, password });
      const upAt = performance.now();
      const catalog = app.get(Catalog);
      await waitFor(async () => (await catalog.item(9), (await health(app)).mode === 'up'), {
        timeoutMs: 3_000,
        message: 'health up once Redis is there',
      });
      await waitFor(
        async () => {
          await catalog.item(10);
          const before = catalog.loads;
          await catalog.item(10);
          return catalog.loads === before;
        },
        { timeoutMs: 3_000, message: 'cache hits once Redis is there' },
      );
      const recoveredMs = performance.now() - upAt;
      await expectNoSecret([password], app, logger, errors);
      expect(escapes.escaped).toEqual([]);

      reporter.add('absent-at-boot', {
        bootMs: round(bootMs, 0),
        slowestCallMs: round(slowest, 1),
        health: String(h.mode),
        reconnectsInWindow: delays.length,
        windowMs: WINDOW_MS,
        reconnectDelaysMs: delays.join('/'),
        recoveredAfterRedisStartMs: round(recoveredMs, 0),
        passwordLeaks: 0,
        ioredisErrorObjectsCarrySecret,
      });
    } finally {
      await app.close();
      await server?.stop();
    }
  }, 30_000);
});

describe('drill 4: wrong password', () => {
  it('boots, serves from the source, reports degraded, backs off; neither password anywhere', async () => {
    const right = 'right-pw-41b2e8';
    const wrong = 'wrong-pw-93c1d0';
    const server = await RedisServer.start({ password: right });
    const logger = new CollectingLogger();
    const { app, errors, bootMs } = await boot(
      {
        prefix: 'd04-wrong',
        redis: { host: '127.0.0.1', port: server.port, password: wrong },
        memory: { maxEntries: 100 },
      },
      logger,
    );
    try {
      expect(bootMs).toBeLessThan(3_000);
      const slowest = await expectServedFromSource(app);
      const h = await health(app);
      expect(h.code).toBe(200);
      expect(h.mode).toBe('degraded');
      const connections = await connectionsDuring(server, right, app);
      // Two connections (commands + bus subscriber), each backing off.
      expect(connections).toBeGreaterThan(0);
      expect(connections).toBeLessThanOrEqual(2 * MAX_ATTEMPTS_PER_CONNECTION);
      expect(logger.matching(/WRONGPASS|invalid username-password/i).length).toBeGreaterThan(0);
      const { ioredisErrorObjectsCarrySecret } = await expectNoSecret([right, wrong], app, logger, errors);
      expect(escapes.escaped).toEqual([]);
      reporter.add('wrong-password', {
        bootMs: round(bootMs, 0),
        slowestCallMs: round(slowest, 1),
        health: String(h.mode),
        connectionsInWindow: connections,
        windowMs: WINDOW_MS,
        passwordLeaks: 0,
        ioredisErrorObjectsCarrySecret,
      });
    } finally {
      await app.close();
      await server.stop();
    }
  }, 30_000);
});

describe('drill 4: password rotated while running', () => {
  it('after requirepass changes and connections drop: serves from the source, degraded, backs off; recovers when the password is back', async () => {
    const original = 'original-pw-5d7e21';
    const rotated = 'rotated-pw-c08f6a';
    const server = await RedisServer.start({ password: original });
    const logger = new CollectingLogger();
    const { app, errors } = await boot(
      { prefix: 'd04-rot', redis: `redis://default:${original}@127.0.0.1:${server.port}`, memory: { maxEntries: 100 } },
      logger,
    );
    const catalog = app.get(Catalog);
    const isHit = async (id: number): Promise<boolean> => {
      await catalog.item(id);
      const before = catalog.loads;
      await catalog.item(id);
      return catalog.loads === before;
    };
    try {
      await waitFor(() => isHit(1), { timeoutMs: 3_000, message: 'the cache working with the original password' });
      expect((await health(app)).mode).toBe('up');

      await server.commandWith({ password: original }, 'CONFIG', 'SET', 'requirepass', rotated);
      // Open connections stay authenticated; a network blip or restart makes the app reconnect with the old one.
      await server.commandWith({ password: rotated }, 'CLIENT', 'KILL', 'TYPE', 'normal');
      await server.commandWith({ password: rotated }, 'CLIENT', 'KILL', 'TYPE', 'pubsub');
      await waitFor(async () => (await health(app)).mode === 'degraded', {
        timeoutMs: 3_000,
        message: 'health degraded after the rotation',
      });
      const slowest = await expectServedFromSource(app);
      const h = await health(app);
      expect(h.code).toBe(200);
      const connections = await connectionsDuring(server, rotated, app);
      expect(connections).toBeGreaterThan(0);
      expect(connections).toBeLessThanOrEqual(2 * MAX_ATTEMPTS_PER_CONNECTION);

      await server.commandWith({ password: rotated }, 'CONFIG', 'SET', 'requirepass', original);
      const restoredAt = performance.now();
      await waitFor(() => isHit(2), {
        timeoutMs: 3_000,
        message: 'the cache working again with the original password',
      });
      const recoveredMs = performance.now() - restoredAt;
      const { ioredisErrorObjectsCarrySecret } = await expectNoSecret([original, rotated], app, logger, errors);
      expect(escapes.escaped).toEqual([]);
      reporter.add('password-rotated', {
        slowestCallMs: round(slowest, 1),
        health: String(h.mode),
        connectionsInWindow: connections,
        windowMs: WINDOW_MS,
        recoveredAfterPasswordBackMs: round(recoveredMs, 0),
        passwordLeaks: 0,
        ioredisErrorObjectsCarrySecret,
      });
    } finally {
      await app.close();
      await server.stop();
    }
  }, 30_000);
});
