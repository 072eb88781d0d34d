import { Logger } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import type { CacheStore } from '../../backends/cache-store.js';
import type { ResolvedCacheOptions } from '../../options/resolved-options.js';
import type { RedisInfo } from '../health/redis-info.parser.js';
import { RedisProbe } from '../health/redis.probe.js';
import type { CacheMetricNames } from './metric-names.js';
import { LogMessages } from '../../errors/error-messages.js';
import { CACHE_LABEL } from './cache-metrics.recorder.js';

type InfoField = Exclude<keyof RedisInfo, 'keys' | 'maxMemoryBytes'>;

/** One cache the gauges describe. */
export interface GaugedCache {
  name: string;
  store: CacheStore;
  options: ResolvedCacheOptions;
}

interface Probed extends GaugedCache {
  probe: RedisProbe | undefined;
  /** The last INFO figures read, kept while Redis is down. */
  last: Partial<Record<InfoField, number>>;
}

/**
 * The state gauges, one series per cache (label `cache`). Cheap ones (enabled, degraded, connection state,
 * memory-tier entries and bytes) are read from the stores at scrape time; Redis INFO figures are refreshed on an
 * interval by `refresh()`, which never throws: while a cache's Redis is down its figures keep their last value and
 * its `redis_connected` is 0.
 * @example
 * const gauges = new CacheGaugesCollector(cacheMetricNames(), [{ name: 'default', store, options }], 1000);
 * await gauges.refresh();
 */
export class CacheGaugesCollector {
  /** Every metric this collector owns, with its name, to register on a registry. */
  readonly metrics: { name: string; metric: Gauge<string> | Counter<string> }[] = [];
  private readonly logger = new Logger('CacheMetrics');
  private readonly caches: Probed[];
  private readonly info: Record<InfoField, Gauge<string> | Counter<string>>;
  private readonly ping: Gauge<string>;
  private running: Promise<void> | undefined;

  constructor(
    names: CacheMetricNames,
    caches: readonly GaugedCache[],
    private readonly timeoutMs: number,
  ) {
    this.caches = caches.map((c) => ({
      ...c,
      probe: c.store.redis ? new RedisProbe(c.store.redis) : undefined,
      last: {},
    }));
    const all = this.caches;
    const labelNames = [CACHE_LABEL];
    const live = (name: string, help: string, read: (c: GaugedCache) => number): Gauge<string> =>
      this.add(
        name,
        new Gauge({
          name,
          help,
          labelNames,
          registers: [],
          collect() {
            for (const c of all) this.set({ [CACHE_LABEL]: c.name }, read(c));
          },
        }),
      );
    live(names.enabled, '1 when caching is enabled (CACHE_ENABLED), else 0.', (c) => (c.options.enabled ? 1 : 0));
    live(
      names.degraded,
      '1 when Redis is configured but unreachable: the app serves from the source and the memory tier.',
      (c) => (c.options.enabled && c.store.redis !== undefined && !c.store.redisConnected ? 1 : 0),
    );
    live(names.redisConnected, "1 when the cache's Redis connection is ready, else 0.", (c) =>
      c.store.redisConnected ? 1 : 0,
    );
    live(names.memoryEntries, 'Entries held by the in-process memory tier.', (c) => c.store.memoryUsage?.entries ?? 0);
    live(names.memoryBytes, 'Bytes held by the in-process memory tier.', (c) => c.store.memoryUsage?.bytes ?? 0);
    const gauge = (name: string, help: string): Gauge<string> =>
      this.add(name, new Gauge({ name, help, labelNames, registers: [] }));
    const counter = (name: string, help: string): Counter<string> =>
      this.add(name, new Counter({ name, help, labelNames, registers: [] }));
    this.ping = gauge(names.redisPing, 'Round trip of the last PING to Redis, in seconds.');
    this.info = {
      connectedClients: gauge(names.redisConnectedClients, 'Redis connected_clients.'),
      usedMemoryBytes: gauge(names.redisUsedMemory, 'Redis used_memory, in bytes.'),
      uptimeSeconds: gauge(names.redisUptime, 'Redis uptime_in_seconds.'),
      keyspaceHits: counter(names.redisKeyspaceHits, 'Redis keyspace_hits (server-wide; resets when Redis restarts).'),
      keyspaceMisses: counter(
        names.redisKeyspaceMisses,
        'Redis keyspace_misses (server-wide; resets when Redis restarts).',
      ),
      evictedKeys: counter(names.redisEvictedKeys, 'Redis evicted_keys (server-wide; resets when Redis restarts).'),
    };
  }

  /** Reads PING + INFO of every cache's Redis and updates the Redis gauges; concurrent calls share one run. Never throws. */
  refresh(): Promise<void> {
    this.running ??= this.readAll().finally(() => (this.running = undefined));
    return this.running;
  }

  private async readAll(): Promise<void> {
    await Promise.all(this.caches.map((c) => this.read(c)));
    for (const field of Object.keys(this.info) as InfoField[]) {
      const metric = this.info[field];
      // Mirrors a server-side counter: reset + inc is how prom-client sets a counter to a known total.
      if (metric instanceof Counter) metric.reset();
      for (const c of this.caches) {
        const value = c.last[field];
        if (value === undefined) continue;
        if (metric instanceof Counter) metric.inc({ [CACHE_LABEL]: c.name }, value);
        else metric.set({ [CACHE_LABEL]: c.name }, value);
      }
    }
  }

  private async read(cache: Probed): Promise<void> {
    if (!cache.options.enabled || !cache.probe) return;
    const ping = await cache.probe.ping(this.timeoutMs);
    if (!ping.ok) {
      this.logger.debug(LogMessages.gaugesNotRefreshed(ping.reason));
      return;
    }
    this.ping.set({ [CACHE_LABEL]: cache.name }, ping.latencyMs / 1000);
    const info = await cache.probe.info(this.timeoutMs);
    if (!info) return;
    for (const field of Object.keys(this.info) as InfoField[]) {
      const value = info[field];
      if (value !== undefined) cache.last[field] = value;
    }
  }

  private add<M extends Gauge<string> | Counter<string>>(name: string, metric: M): M {
    this.metrics.push({ name, metric });
    return metric;
  }
}
