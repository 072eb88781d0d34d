import { Logger } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import type { CacheStore } from '../../backends/cache-store.js';
import type { ResolvedCacheOptions } from '../../options/resolved-options.js';
import type { RedisInfo } from '../health/redis-info.parser.js';
import { RedisProbe } from '../health/redis.probe.js';
import type { CacheMetricNames } from './metric-names.js';
import { LogMessages } from '../../errors/error-messages.js';

type InfoField = Exclude<keyof RedisInfo, 'keys' | 'maxMemoryBytes'>;

/**
 * The state gauges. Cheap ones (enabled, degraded, connection state, memory-tier entries and bytes) are read from
 * the store at scrape time; Redis INFO figures are refreshed on an interval by `refresh()`, which never throws: while
 * Redis is down they keep their last value and `redis_connected` is 0.
 * @example
 * const gauges = new CacheGaugesCollector(cacheMetricNames(), store, cacheOptions, 1000);
 * await gauges.refresh();
 */
export class CacheGaugesCollector {
  /** Every metric this collector owns, with its name, to register on a registry. */
  readonly metrics: { name: string; metric: Gauge<string> | Counter<string> }[] = [];
  private readonly logger = new Logger('CacheMetrics');
  private readonly probe: RedisProbe | undefined;
  private readonly info: Record<InfoField, Gauge<string> | Counter<string>>;
  private readonly ping: Gauge<string>;
  private running: Promise<void> | undefined;

  constructor(
    names: CacheMetricNames,
    private readonly store: CacheStore,
    private readonly cacheOptions: ResolvedCacheOptions,
    private readonly timeoutMs: number,
  ) {
    this.probe = store.redis ? new RedisProbe(store.redis) : undefined;
    const enabled = cacheOptions.enabled;
    const live = (name: string, help: string, read: () => number): Gauge<string> =>
      this.add(
        name,
        new Gauge({
          name,
          help,
          registers: [],
          collect() {
            this.set(read());
          },
        }),
      );
    live(names.enabled, '1 when caching is enabled (CACHE_ENABLED), else 0.', () => (enabled ? 1 : 0));
    live(
      names.degraded,
      '1 when Redis is configured but unreachable: the app serves from the source and the memory tier.',
      () => (enabled && store.redis !== undefined && !store.redisConnected ? 1 : 0),
    );
    live(names.redisConnected, "1 when the cache's Redis connection is ready, else 0.", () =>
      store.redisConnected ? 1 : 0,
    );
    live(names.memoryEntries, 'Entries held by the in-process memory tier.', () => store.memoryUsage?.entries ?? 0);
    live(names.memoryBytes, 'Bytes held by the in-process memory tier.', () => store.memoryUsage?.bytes ?? 0);
    const gauge = (name: string, help: string): Gauge<string> =>
      this.add(name, new Gauge({ name, help, registers: [] }));
    const counter = (name: string, help: string): Counter<string> =>
      this.add(name, new Counter({ name, help, registers: [] }));
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

  /** Reads PING + INFO and updates the Redis gauges; concurrent calls share one run. Never throws. */
  refresh(): Promise<void> {
    this.running ??= this.read().finally(() => (this.running = undefined));
    return this.running;
  }

  private async read(): Promise<void> {
    if (!this.cacheOptions.enabled || !this.probe) return;
    const ping = await this.probe.ping(this.timeoutMs);
    if (!ping.ok) {
      this.logger.debug(LogMessages.gaugesNotRefreshed(ping.reason));
      return;
    }
    this.ping.set(ping.latencyMs / 1000);
    const info = await this.probe.info(this.timeoutMs);
    if (!info) return;
    for (const field of Object.keys(this.info) as InfoField[]) {
      const value = info[field];
      if (value === undefined) continue;
      const metric = this.info[field];
      if (metric instanceof Counter) {
        // Mirrors a server-side counter: reset + inc is how prom-client sets a counter to a known total.
        metric.reset();
        metric.inc(value);
      } else {
        metric.set(value);
      }
    }
  }

  private add<M extends Gauge<string> | Counter<string>>(name: string, metric: M): M {
    this.metrics.push({ name, metric });
    return metric;
  }
}
