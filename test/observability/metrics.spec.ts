import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { Registry, register } from 'prom-client';
import { CACHE_METRICS, cacheMetricNames } from 'nestjs-tiercache/metrics';
import type { CacheMetrics } from 'nestjs-tiercache/metrics';
import { freePort } from '../harness/free-port.js';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { entryKey } from '../support/cache-internals.js';
import { bootObservabilityApp, parseSamples, promtool, valueOf } from './observability-app.js';
import type { ObservabilityApp, Sample } from './observability-app.js';

const names = cacheMetricNames();
const user = (id: number) => ({ id, name: `u${id}`, balance: 10 });

async function scrape(app: ObservabilityApp): Promise<{ text: string; samples: Sample[] }> {
  const res = await app.http().get('/metrics').expect(200);
  return { text: res.text, samples: parseSamples(res.text) };
}

let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis.stop();
});

describe('cache metrics on the app registry (PrometheusModule /metrics)', () => {
  let app: ObservabilityApp;
  beforeAll(async () => {
    app = await bootObservabilityApp({
      cache: {
        prefix: 'obs-m',
        redis: redis.url,
        memory: { maxEntries: 3 },
        commandTimeout: 100,
        namespaces: { file: { maxValueBytes: 64 } },
      },
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('counts hits, misses, sets, invalidations, errors, timeouts, refusals, decode failures, evictions and stampede waits', async () => {
    const { cache, repo } = app;
    // The memory tier is used once the invalidation bus is subscribed.
    await waitFor(async () => (await cache.set('user', 0, user(0))) && (cache.stats().memory?.entries ?? 0) > 0, {
      message: 'a trusted memory tier',
    });
    repo.rows.set(1, user(1));
    await repo.getUser(1); // miss in Redis, load, set
    await repo.getUser(1); // memory-tier hit
    await repo.rename(1, 'renamed'); // delete
    await repo.file('a', 1000); // too large: refused
    await redis.command('SET', entryKey(app.app, 'user', 2), 'not an entry');
    expect(await cache.get('user', 2)).toBeUndefined(); // decode failure
    for (let id = 10; id < 16; id++) await cache.set('user', id, user(id)); // memory tier holds 3: evictions

    let release: () => void = () => undefined;
    repo.gate = new Promise<void>((resolve) => (release = resolve));
    const callers = Promise.all([repo.getUser(7), repo.getUser(7), repo.getUser(7)]);
    await waitFor(() => repo.loads >= 2, { message: 'the stampede loader to start' });
    release();
    await callers;
    repo.gate = undefined;

    await redis.command('CLIENT', 'PAUSE', 400, 'ALL'); // returns once the pause is in force
    expect(await cache.get('user', 99)).toBeUndefined(); // commandTimeout 100 ms: timeout
    await waitFor(async () => (await redis.command('PING')) === 'PONG', { message: 'the pause to end' });
    // Reads are GET or GETRANGE (bounded): deny both.
    await redis.command('ACL', 'SETUSER', 'default', '-get', '-getrange');
    try {
      expect(await cache.get('user', 97)).toBeUndefined(); // NOPERM: error
    } finally {
      await redis.command('ACL', 'SETUSER', 'default', '+get', '+getrange');
    }
    await redis.command('CONFIG', 'SET', 'maxmemory', 1);
    try {
      expect(await cache.set('user', 98, user(98))).toBe(false); // OOM: refused
    } finally {
      await redis.command('CONFIG', 'SET', 'maxmemory', 0);
    }

    const { samples } = await scrape(app);
    expect(valueOf(samples, names.hits, { namespace: 'user' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, names.misses, { namespace: 'user', tier: 'redis' })).toBeGreaterThanOrEqual(2);
    expect(valueOf(samples, names.sets, { namespace: 'user', tier: 'redis' })).toBeGreaterThanOrEqual(7);
    // The rename, and the write refused under OOM: a refused write fences its key like an invalidation (the old
    // value must not outlive the change the write carried).
    expect(valueOf(samples, names.invalidations, { namespace: 'user', operation: 'delete' })).toBe(2);
    expect(valueOf(samples, names.refused, { namespace: 'file' })).toBe(1);
    expect(valueOf(samples, names.refused, { namespace: 'user', tier: 'redis' })).toBe(1);
    expect(valueOf(samples, names.decodeFailures, { namespace: 'user', tier: 'redis' })).toBe(1);
    expect(valueOf(samples, names.evictions, { tier: 'memory' })).toBeGreaterThanOrEqual(3);
    expect(valueOf(samples, names.stampedeWaits, { namespace: 'user' })).toBe(2);
    expect(valueOf(samples, names.timeouts, { namespace: 'user', tier: 'redis', operation: 'get' })).toBe(1);
    expect(valueOf(samples, names.errors, { namespace: 'user', tier: 'redis', operation: 'get' })).toBe(1);
    expect(valueOf(samples, names.operations, { namespace: 'user', operation: 'get', result: 'hit' })).toBe(
      valueOf(samples, names.hits, { namespace: 'user' }),
    );
    expect(
      valueOf(samples, names.operations, { namespace: 'user', tier: 'source', operation: 'load', result: 'wait' }),
    ).toBe(2);

    const count = valueOf(samples, `${names.latency}_count`, { tier: 'redis', operation: 'get' });
    expect(count).toBeGreaterThanOrEqual(3);
    expect(valueOf(samples, `${names.latency}_bucket`, { tier: 'redis', operation: 'get', le: '+Inf' })).toBe(count);
    const buckets = samples.filter(
      (s) => s.name === `${names.latency}_bucket` && s.labels.tier === 'redis' && s.labels.operation === 'get',
    );
    expect(buckets.map((b) => b.labels.le)).toEqual([
      '0.00005',
      '0.0001',
      '0.00025',
      '0.0005',
      '0.001',
      '0.0025',
      '0.005',
      '0.01',
      '0.025',
      '0.05',
      '0.1',
      '0.25',
      '0.5',
      '1',
      '+Inf',
    ]);
    expect(buckets.every((b, i) => i === 0 || b.value >= (buckets[i - 1]?.value ?? 0))).toBe(true);
    // The timed-out read took ≥ 100 ms: it is in the upper buckets only.
    expect(valueOf(samples, `${names.latency}_bucket`, { tier: 'redis', operation: 'get', le: '0.05' })).toBeLessThan(
      count,
    );

    // Labels never carry a key or an id: only the bounded label values appear.
    const ours = samples.filter((s) => s.name.startsWith('cache_'));
    for (const s of ours) {
      for (const [label, value] of Object.entries(s.labels)) {
        if (label === 'namespace') expect(['user', 'file', 'search', 'scalar', '_tags']).toContain(value);
        else if (label === 'le') expect(value).toMatch(/^(\+Inf|[0-9.e-]+)$/);
        else if (label === 'cache') expect(value).toBe('default');
        else expect(['tier', 'operation', 'result']).toContain(label);
        expect(value).not.toContain(':');
      }
    }
  });

  it('exposes Redis and memory-tier gauges', async () => {
    await waitFor(
      async () => (await app.cache.set('user', 0, user(0))) && (app.cache.stats().memory?.entries ?? 0) > 0,
      { message: 'a trusted memory tier' },
    );
    await app.app.get<CacheMetrics>(CACHE_METRICS).refresh();
    const { samples } = await scrape(app);
    expect(valueOf(samples, names.enabled)).toBe(1);
    expect(valueOf(samples, names.degraded)).toBe(0);
    expect(valueOf(samples, names.redisConnected)).toBe(1);
    expect(valueOf(samples, names.redisConnectedClients)).toBeGreaterThanOrEqual(2); // the cache's client and its bus
    expect(valueOf(samples, names.redisUsedMemory)).toBeGreaterThan(100_000);
    expect(valueOf(samples, names.redisUptime)).toBeGreaterThanOrEqual(0);
    expect(valueOf(samples, names.redisPing)).toBeGreaterThan(0);
    expect(valueOf(samples, names.redisPing)).toBeLessThan(1);
    expect(valueOf(samples, names.redisKeyspaceMisses)).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, names.memoryEntries)).toBeGreaterThan(0);
    expect(valueOf(samples, names.memoryEntries)).toBeLessThanOrEqual(3);
    expect(valueOf(samples, names.memoryBytes)).toBeGreaterThan(0);
  });

  it('passes `promtool check metrics` with exit 0 (registry without default metrics)', async () => {
    const { text } = await scrape(app);
    expect(text).toContain(`# TYPE ${names.latency} histogram`);
    const result = await promtool(['check', 'metrics'], text);
    expect(result).toEqual({ code: 0, output: '' });
  });
});

describe('names, registry and bounded series', () => {
  it('reproduces the seed names (prefix + namespace label) on a custom registry, not on the global one', async () => {
    const registry = new Registry();
    const app = await bootObservabilityApp({
      cache: { prefix: 'obs-seed' },
      prometheus: false,
      metrics: { prefix: 'bot_redis_cache_', namespaceLabel: 'cache_type', registry },
    });
    try {
      app.repo.rows.set(1, user(1));
      await app.repo.getUser(1);
      await app.repo.getUser(1);
      const samples = parseSamples(await registry.metrics());
      expect(valueOf(samples, 'bot_redis_cache_hits_total', { cache_type: 'user' })).toBe(1);
      expect(valueOf(samples, 'bot_redis_cache_misses_total', { cache_type: 'user' })).toBe(1);
      expect(register.getSingleMetric('bot_redis_cache_hits_total')).toBeUndefined();
      expect((await promtool(['check', 'metrics'], await registry.metrics())).code).toBe(0);
    } finally {
      await app.close();
    }
    expect(registry.getMetricsAsArray()).toHaveLength(0); // unregistered on shutdown
  });

  it('refuses a second registration of the same names, naming the option', async () => {
    const registry = new Registry();
    const first = await bootObservabilityApp({
      cache: { prefix: 'obs-dup1' },
      prometheus: false,
      metrics: { registry },
    });
    try {
      await expect(
        bootObservabilityApp({ cache: { prefix: 'obs-dup2' }, prometheus: false, metrics: { registry } }),
      ).rejects.toThrow(/metrics\.prefix.*cache_operations_total.*already registered/);
      await expect(
        bootObservabilityApp({ cache: { prefix: 'obs-dup3' }, prometheus: false, metrics: { prefix: 'bad prefix' } }),
      ).rejects.toThrow(/metrics\.prefix/);
    } finally {
      await first.close();
    }
  });

  it('keeps the number of series unchanged after 100,000 distinct keys and caps namespaces', async () => {
    const registry = new Registry();
    const app = await bootObservabilityApp({
      cache: { prefix: 'obs-bound', memory: { maxEntries: 200 } },
      prometheus: false,
      metrics: { registry, maxNamespaces: 20 },
    });
    try {
      const { cache } = app;
      // Every kind of event the run below produces (miss, set, hit, delete, eviction) once, so its series exist.
      for (let i = 0; i < 1_000; i++) {
        await cache.getOrSet('user', `warm${i}`, () => i);
        await cache.get('user', `warm${i}`);
        if (i % 100 === 0) await cache.delete('user', `warm${i}`);
      }
      const before = parseSamples(await registry.metrics());
      for (let i = 0; i < 100_000; i++) {
        await cache.get('user', `key:${i}`);
        if (i % 50 === 0) await cache.getOrSet('user', { id: i, user: `user-${i}` }, () => i);
      }
      const after = parseSamples(await registry.metrics());
      const series = (samples: Sample[]) => samples.map((s) => `${s.name}${JSON.stringify(s.labels)}`).sort();
      expect(series(after)).toEqual(series(before));
      expect(series(after).length).toBeLessThan(60);
      expect(valueOf(after, names.misses, { namespace: 'user' })).toBeGreaterThanOrEqual(101_000);

      for (let n = 0; n < 200; n++) await cache.get(`ns-${n}`, 1);
      const labelled = new Set(
        parseSamples(await registry.metrics())
          .map((s) => s.labels.namespace)
          .filter((v) => v !== undefined),
      );
      expect(labelled.size).toBe(21); // 20 named + _other
      expect(labelled.has('_other')).toBe(true);
    } finally {
      await app.close();
    }
  });

  it("refreshes on an unref'd timer that is cleared on shutdown", async () => {
    const setSpy = jest.spyOn(globalThis, 'setInterval');
    const clearSpy = jest.spyOn(globalThis, 'clearInterval');
    try {
      const app = await bootObservabilityApp({
        cache: { prefix: 'obs-timer' },
        prometheus: false,
        metrics: { registry: new Registry(), refreshInterval: '12345ms' },
      });
      const index = setSpy.mock.calls.findIndex((call) => call[1] === 12_345);
      expect(index).toBeGreaterThanOrEqual(0);
      const timer = setSpy.mock.results[index]?.value as NodeJS.Timeout;
      expect(timer.hasRef()).toBe(false);
      await app.close();
      expect(clearSpy).toHaveBeenCalledWith(timer);
    } finally {
      setSpy.mockRestore();
      clearSpy.mockRestore();
    }
  });
});

describe('gauges when Redis goes away', () => {
  it('killed: connection state 0 and degraded 1, refresh never throws; back after restart', async () => {
    const own = await RedisServer.start();
    const registry = new Registry();
    const app = await bootObservabilityApp({
      cache: { prefix: 'obs-kill', redis: own.url },
      prometheus: false,
      metrics: { registry, refreshInterval: '100ms' },
    });
    const extra = [0, 1, 2].map(
      () =>
        new Redis({
          port: own.port,
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
          disconnectTimeout: 0,
        }),
    );
    try {
      const read = async () => parseSamples(await registry.metrics());
      const clientsAtBoot = valueOf(await read(), names.redisConnectedClients);
      expect(clientsAtBoot).toBeGreaterThanOrEqual(1);
      await Promise.all(extra.map((c) => c.connect()));
      await waitFor(async () => valueOf(await read(), names.redisConnectedClients) >= clientsAtBoot + 3, {
        message: 'the interval refresh to see 3 more clients',
      });
      extra.forEach((c) => c.disconnect());

      await own.kill();
      await waitFor(async () => valueOf(await read(), names.redisConnected) === 0, { message: 'redis_connected 0' });
      const down = await read();
      expect(valueOf(down, names.degraded)).toBe(1);
      await expect(app.app.get<CacheMetrics>(CACHE_METRICS).refresh()).resolves.toBeUndefined();
      expect((await promtool(['check', 'metrics'], await registry.metrics())).code).toBe(0);

      await own.restart();
      await waitFor(async () => valueOf(await read(), names.redisConnected) === 1, {
        timeoutMs: 5000,
        message: 'redis_connected 1 after restart',
      });
      expect(valueOf(await read(), names.degraded)).toBe(0);
    } finally {
      extra.forEach((c) => c.disconnect());
      await app.close();
      await own.stop();
    }
  });

  it('never started: boots, connection state 0, degraded 1, INFO gauges absent of data, no throw', async () => {
    const port = await freePort();
    const registry = new Registry();
    const app = await bootObservabilityApp({
      cache: { prefix: 'obs-never', redis: { host: '127.0.0.1', port, connectTimeout: '300ms' } },
      prometheus: false,
      metrics: { registry },
    });
    try {
      await expect(app.app.get<CacheMetrics>(CACHE_METRICS).refresh()).resolves.toBeUndefined();
      const samples = parseSamples(await registry.metrics());
      expect(valueOf(samples, names.redisConnected)).toBe(0);
      expect(valueOf(samples, names.degraded)).toBe(1);
      expect(valueOf(samples, names.redisUsedMemory)).toBe(0);
      expect(await app.repo.getUser(1)).toBeNull(); // the app keeps serving
    } finally {
      await app.close();
    }
  });

  it('disabled: enabled 0, degraded 0', async () => {
    const registry = new Registry();
    const app = await bootObservabilityApp({
      cache: { prefix: 'obs-off', redis: redis.url, enabled: false },
      prometheus: false,
      metrics: { registry },
    });
    try {
      const samples = parseSamples(await registry.metrics());
      expect(valueOf(samples, names.enabled)).toBe(0);
      expect(valueOf(samples, names.degraded)).toBe(0);
    } finally {
      await app.close();
    }
  });
});

describe('promtool with prom-client default metrics', () => {
  it('finds lint issues only in the default nodejs_* metrics (exit 3), never a parse error', async () => {
    const app = await bootObservabilityApp({ cache: { prefix: 'obs-default' }, prometheus: { defaultMetrics: true } });
    try {
      const { text } = await scrape(app);
      expect(text).toContain('nodejs_');
      const { code, output } = await promtool(['check', 'metrics'], text);
      expect([0, 3]).toContain(code);
      const flagged = output
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => line.split(' ')[0]);
      expect(flagged.every((name) => name?.startsWith('nodejs_'))).toBe(true);
    } finally {
      await app.close();
      register.clear(); // collectDefaultMetrics registered on the global registry
    }
  });
});
