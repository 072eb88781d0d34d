import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freePort } from '../harness/free-port.js';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { bootObservabilityApp } from './observability-app.js';
import type { ObservabilityApp } from './observability-app.js';

const PASSWORD = 'hunter2-health-secret';

interface CacheHealthBody {
  status: string;
  info?: { cache?: Record<string, unknown> };
  error?: { cache?: Record<string, unknown> };
  details: { cache: Record<string, unknown> & { status: string; mode: string } };
}

async function health(
  app: ObservabilityApp,
  path = '/health',
): Promise<{ code: number; body: CacheHealthBody; text: string }> {
  const res = await app.http().get(path);
  return { code: res.status, body: res.body as CacheHealthBody, text: res.text };
}

/** Nothing that locates or unlocks the server may leak into the payload. */
function expectNoSecrets(text: string, port: number): void {
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain(String(port));
  expect(text).not.toContain('127.0.0.1');
  expect(text).not.toContain('redis://');
}

describe('cache health with Redis up, frozen and killed', () => {
  let redis: RedisServer;
  let app: ObservabilityApp;
  beforeAll(async () => {
    redis = await RedisServer.start({ password: PASSWORD });
    app = await bootObservabilityApp({
      cache: {
        prefix: 'obs-h',
        redis: `redis://:${PASSWORD}@127.0.0.1:${redis.port}`,
        memory: { maxEntries: 100 },
        commandTimeout: 200,
      },
      metrics: false,
      prometheus: false,
      health: { timeout: '500ms' },
    });
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('up: PING latency, used memory, mode up; no URL, password or address', async () => {
    await app.cache.set('user', 1, { id: 1 });
    const { code, body, text } = await health(app);
    expect(code).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.details.cache).toMatchObject({
      status: 'up',
      mode: 'up',
      backend: 'tiered',
      critical: false,
      redis: { connected: true },
    });
    const redisData = body.details.cache.redis as { latencyMs: number; usedMemoryBytes: number };
    expect(redisData.latencyMs).toBeGreaterThanOrEqual(0);
    expect(redisData.latencyMs).toBeLessThan(500);
    expect(redisData.usedMemoryBytes).toBeGreaterThan(100_000);
    expectNoSecrets(text, redis.port);
    expect((await health(app, '/health/critical')).code).toBe(200);
  });

  it('frozen: the PING is cut at the deadline and reported as a timeout', async () => {
    redis.freeze();
    try {
      const started = performance.now();
      const { code, body } = await health(app);
      expect(performance.now() - started).toBeLessThan(1_500);
      expect(code).toBe(200);
      expect(body.details.cache).toMatchObject({
        status: 'degraded',
        mode: 'degraded',
        redis: { connected: false, reason: 'timeout' },
      });
    } finally {
      redis.thaw();
    }
    await waitFor(async () => (await health(app)).body.details.cache.mode === 'up', {
      message: 'health up after thaw',
    });
  });

  it('killed: degraded and still 200 by default; 503 when Redis is critical; up again after restart', async () => {
    await redis.kill();
    await waitFor(async () => (await health(app)).body.details.cache.mode === 'degraded', {
      message: 'health degraded',
    });
    const { code, body, text } = await health(app);
    expect(code).toBe(200);
    expect(body.status).toBe('degraded');
    expect(body.details.cache).toMatchObject({
      status: 'degraded',
      mode: 'degraded',
      backend: 'tiered',
      critical: false,
      redis: { connected: false, reason: 'unreachable' },
    });
    expectNoSecrets(text, redis.port);

    const critical = await health(app, '/health/critical');
    expect(critical.code).toBe(503);
    expect(critical.body.status).toBe('error');
    expect(critical.body.details.cache).toMatchObject({ status: 'down', mode: 'degraded', critical: true });
    expectNoSecrets(critical.text, redis.port);

    await redis.restart();
    await waitFor(async () => (await health(app)).body.details.cache.mode === 'up', {
      message: 'health up after restart',
    });
  });
});

describe('cache health without a running Redis, disabled, memory only', () => {
  it('never started: the app boots and reports degraded (200), or down when critical (503)', async () => {
    const port = await freePort();
    const app = await bootObservabilityApp({
      cache: { prefix: 'obs-h-never', redis: { host: '127.0.0.1', port, password: PASSWORD, connectTimeout: '300ms' } },
      metrics: false,
      prometheus: false,
      health: {},
    });
    try {
      const { code, body, text } = await health(app);
      expect(code).toBe(200);
      expect(body.details.cache).toMatchObject({
        status: 'degraded',
        mode: 'degraded',
        backend: 'redis',
        redis: { connected: false, reason: 'unreachable' },
      });
      expectNoSecrets(text, port);
      expect((await health(app, '/health/critical')).code).toBe(503);
      expect(await app.repo.getUser(1)).toBeNull(); // serving from the source
    } finally {
      await app.close();
    }
  });

  it('disabled (CACHE_ENABLED=false): mode disabled, 200 even when Redis is critical', async () => {
    const port = await freePort();
    const app = await bootObservabilityApp({
      cache: { prefix: 'obs-h-off', enabled: false, redis: `redis://127.0.0.1:${port}` },
      metrics: false,
      prometheus: false,
      health: {},
    });
    try {
      const { code, body } = await health(app);
      expect(code).toBe(200);
      expect(body).toMatchObject({
        status: 'ok',
        details: { cache: { status: 'up', mode: 'disabled', backend: 'redis' } },
      });
      expect((await health(app, '/health/critical')).code).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('memory only: mode up with the memory tier usage', async () => {
    const app = await bootObservabilityApp({
      cache: { prefix: 'obs-h-mem' },
      metrics: false,
      prometheus: false,
      health: {},
    });
    try {
      await app.cache.set('user', 1, { id: 1 });
      const { code, body } = await health(app);
      expect(code).toBe(200);
      expect(body.details.cache).toMatchObject({ status: 'up', mode: 'up', backend: 'memory', memory: { entries: 1 } });
    } finally {
      await app.close();
    }
  });
});
