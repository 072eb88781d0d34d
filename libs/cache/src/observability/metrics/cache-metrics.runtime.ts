import { Logger } from '@nestjs/common';
import type { OnApplicationBootstrap, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { register } from 'prom-client';
import type { Counter, Gauge, Registry } from 'prom-client';
import type { CacheEngine } from '../../engine/cache-engine.js';
import { CacheError } from '../../errors/cache.error.js';
import { ErrorMessages, LogMessages } from '../../errors/error-messages.js';
import { CacheGaugesCollector } from './cache-gauges.collector.js';
import type { CacheMetrics } from './cache-metrics.interface.js';
import type { ResolvedMetricsOptions } from './cache-metrics.options.js';
import { CacheMetricFamilies, CacheMetricsRecorder } from './cache-metrics.recorder.js';
import type { LatencyHistogram } from './latency.histogram.js';
import { cacheMetricNames } from './metric-names.js';
import type { CacheMetricNames } from './metric-names.js';

type OwnMetric = Counter<string> | Gauge<string> | LatencyHistogram;

/**
 * The metrics of one CacheModule on one registry: registers the recorder's counters and histogram and the gauges,
 * feeds the recorder from CacheService, refreshes the Redis gauges on an unref'd timer, and unregisters everything
 * on shutdown (so an app, or a test, can boot again on the same registry). Loaded lazily by CacheMetricsModule, so
 * prom-client is only required when metrics are used.
 * @example
 * const metrics = new CacheMetricsRuntime(resolveMetricsOptions({}), engine.telemetry, engine.store, engine.options);
 */
export class CacheMetricsRuntime implements CacheMetrics, OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  readonly names: CacheMetricNames;
  readonly registry: Registry;
  private readonly logger = new Logger('CacheMetrics');
  private gauges: CacheGaugesCollector | undefined;
  private readonly owned: { name: string; metric: OwnMetric }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: ResolvedMetricsOptions,
    /** The app's caches; called once every provider exists (onModuleInit). */
    private readonly discover: () => readonly CacheEngine[],
  ) {
    this.registry = options.registry ?? register;
    this.names = cacheMetricNames(options.prefix);
  }

  /** Registers the metrics of every cache of the app (series labelled `cache`). */
  onModuleInit(): void {
    if (this.gauges) return;
    const engines = this.discover();
    if (engines.length === 0) throw new CacheError('E_MISUSE', ErrorMessages.metricsWithoutCache());
    const names = engines.map((e) => e.options.name);
    const families = new CacheMetricFamilies(this.names, this.options.namespaceLabel, names, this.options.buckets);
    const recorders = engines.map(
      (engine, i) =>
        new CacheMetricsRecorder(
          families,
          engine.options.name,
          i,
          this.options.maxNamespaces,
          () => engine.store.evictions,
        ),
    );
    this.gauges = new CacheGaugesCollector(
      this.names,
      engines.map((e) => ({ name: e.options.name, store: e.store, options: e.options })),
      this.options.refreshTimeoutMs,
    );
    for (const { name, metric } of [...families.metrics, ...this.gauges.metrics]) this.register(name, metric);
    engines.forEach((engine, i) => engine.telemetry.addRecorder(recorders[i] as CacheMetricsRecorder));
  }

  refresh(): Promise<void> {
    return this.gauges?.refresh() ?? Promise.resolve();
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.refresh();
    if (this.options.refreshIntervalMs > 0) {
      this.timer = setInterval(() => {
        this.refresh().catch((err: unknown) =>
          this.logger.warn(LogMessages.backgroundFailed('Redis gauges refresh', err)),
        );
      }, this.options.refreshIntervalMs);
      this.timer.unref();
    }
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.unregister();
  }

  private register(name: string, metric: OwnMetric): void {
    if (this.registry.getSingleMetric(name) !== undefined) {
      this.unregister();
      throw new CacheError(
        'E_INVALID_OPTION',
        ErrorMessages.invalidOption(
          'metrics.prefix',
          JSON.stringify(this.options.prefix),
          `a prefix whose metric names are free in the registry ("${name}" is already registered); or pass metrics.registry`,
        ),
      );
    }
    this.registry.registerMetric(metric);
    this.owned.push({ name, metric });
  }

  private unregister(): void {
    for (const { name, metric } of this.owned.splice(0)) {
      // Only remove what is still ours: another module may have registered the name since.
      if (this.registry.getSingleMetric(name) === metric) this.registry.removeSingleMetric(name);
    }
  }
}
