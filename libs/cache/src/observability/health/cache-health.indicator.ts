import type { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import type { CacheStore } from '../../backends/cache-store.js';
import type { ResolvedCacheOptions } from '../../options/resolved-options.js';
import type { CacheHealthOptions, ResolvedHealthOptions } from './cache-health.options.js';
import { resolveHealthOptions } from './cache-health.options.js';
import type { RedisProbeFailure } from './redis.probe.js';
import { RedisProbe } from './redis.probe.js';
import { CacheError } from '../../errors/cache.error.js';
import { ErrorMessages } from '../../errors/error-messages.js';

/**
 * `up`: caching with every configured tier; `degraded`: Redis unreachable, serving from the source/memory; `disabled`: CACHE_ENABLED=false.
 * @example if (result.cache.mode === 'degraded') alert();
 */
export type CacheHealthMode = 'up' | 'degraded' | 'disabled';

/**
 * The data a cache health result carries. Never an address, URL or credential.
 * @example { cache: 'default', mode: 'degraded', backend: 'tiered', critical: false, redis: { connected: false, reason: 'unreachable' } }
 */
export type CacheHealthData = {
  /** The cache checked: `'default'`, or the name given to `CacheModule.forRoot({ name })`. */
  cache: string;
  mode: CacheHealthMode;
  backend: 'memory' | 'redis' | 'tiered';
  /** Whether an unreachable Redis fails the check (present when Redis is configured). */
  critical?: boolean;
  redis?: { connected: boolean; latencyMs?: number; usedMemoryBytes?: number; reason?: RedisProbeFailure };
  memory?: { entries: number; bytes: number };
};

/**
 * The data of a check over several caches (an app with named caches, `isHealthy()` without `cache`): the worst mode
 * and each cache's own data.
 * @example { mode: 'up', caches: { default: { cache: 'default', mode: 'up', backend: 'memory' }, catalogue: { ... } } }
 */
export type CacheHealthSummary = { mode: CacheHealthMode; caches: Record<string, CacheHealthData> };

/**
 * Options of one `isHealthy` call: the module-wide ones overridden, and which cache to check.
 * @example await indicator.isHealthy('catalogue', { cache: 'catalogue', critical: true })
 */
export interface CacheHealthCheckOptions extends CacheHealthOptions {
  /** The cache to check (its `forRoot({ name })`). @default every cache of the app (one: that one) */
  cache?: string;
}

/** One cache the indicator checks. */
export interface CheckedCache {
  name: string;
  store: CacheStore;
  options: ResolvedCacheOptions;
}

type Status = 'up' | 'degraded' | 'down';
const MODE_RANK: Record<CacheHealthMode, number> = { disabled: 0, up: 1, degraded: 2 };
const STATUS_RANK: Record<Status, number> = { up: 0, degraded: 1, down: 2 };

/**
 * Terminus indicator of the app's caches, each on its own Redis connection: PING with a deadline, its latency, Redis
 * used memory, and the mode. An unreachable Redis is `degraded` (the check passes) unless `critical: true` makes it
 * `down`. With several caches (named caches), one call checks them all, or the one named by `cache`. Provided by
 * `CacheHealthModule`.
 * @example
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.cache.isHealthy('cache')]); }
 */
export class CacheHealthIndicator {
  readonly #probes = new WeakMap<CacheStore, RedisProbe>();

  constructor(
    private readonly indicators: HealthIndicatorService,
    /** The app's caches, read at each check (complete once the app is initialized). */
    private readonly caches: () => readonly CheckedCache[],
    private readonly defaults: ResolvedHealthOptions,
  ) {}

  /**
   * Checks the cache(s) under `key`; `options` override the module-wide ones for this call.
   * @default key 'cache'
   */
  async isHealthy<const Key extends string = 'cache'>(
    key: Key = 'cache' as Key,
    options?: CacheHealthCheckOptions,
  ): Promise<HealthIndicatorResult<Key>> {
    const { critical, timeoutMs } = resolveHealthOptions(options, this.defaults);
    const session = this.indicators.check(key);
    const all = this.caches();
    const wanted = options?.cache;
    if (wanted !== undefined && typeof wanted !== 'string')
      throw new CacheError('E_MISUSE', ErrorMessages.badCacheName(wanted));
    const picked = wanted === undefined ? all : all.filter((c) => c.name === wanted);
    if (picked.length === 0)
      throw new CacheError(
        'E_MISUSE',
        ErrorMessages.misuse(
          'CacheHealthIndicator.isHealthy',
          ErrorMessages.unknownCache(
            String(wanted ?? 'default'),
            all.map((c) => c.name),
          ),
          'pass { cache } naming a cache registered with CacheModule.forRoot({ name })',
        ),
      );
    const results = await Promise.all(picked.map((c) => checkCache(c, this.#probeOf(c.store), critical, timeoutMs)));
    const status = results.reduce<Status>((w, r) => (STATUS_RANK[r.status] > STATUS_RANK[w] ? r.status : w), 'up');
    const data: CacheHealthData | CacheHealthSummary =
      results.length === 1 && results[0]
        ? results[0].data
        : {
            mode: results.reduce<CacheHealthMode>(
              (w, r) => (MODE_RANK[r.data.mode] > MODE_RANK[w] ? r.data.mode : w),
              'disabled',
            ),
            caches: Object.fromEntries(results.map((r) => [r.data.cache, r.data])),
          };
    type Data = CacheHealthData | CacheHealthSummary;
    if (status === 'down') return session.down<Data>(data);
    return status === 'degraded' ? session.degraded<Data>(data) : session.up<Data>(data);
  }

  #probeOf(store: CacheStore): RedisProbe | undefined {
    if (!store.redis) return undefined;
    let probe = this.#probes.get(store);
    if (!probe) this.#probes.set(store, (probe = new RedisProbe(store.redis)));
    return probe;
  }
}

/** Checks one cache: its mode, and its Redis (PING + used memory) when it has one. */
async function checkCache(
  cache: CheckedCache,
  probe: RedisProbe | undefined,
  critical: boolean,
  timeoutMs: number,
): Promise<{ status: Status; data: CacheHealthData }> {
  const { store } = cache;
  const base = { cache: cache.name, backend: store.backend.kind };
  const memory = store.memoryUsage ?? undefined;
  if (!cache.options.enabled) return { status: 'up', data: { ...base, mode: 'disabled' } };
  if (!probe) return { status: 'up', data: { ...base, mode: 'up', ...(memory ? { memory } : {}) } };
  const ping = await probe.ping(timeoutMs);
  if (!ping.ok) {
    const data: CacheHealthData = {
      ...base,
      mode: 'degraded',
      critical,
      redis: { connected: false, reason: ping.reason },
      ...(memory ? { memory } : {}),
    };
    return { status: critical ? 'down' : 'degraded', data };
  }
  const info = await probe.info(timeoutMs);
  const redis = {
    connected: true,
    latencyMs: ping.latencyMs,
    ...(info?.usedMemoryBytes !== undefined ? { usedMemoryBytes: info.usedMemoryBytes } : {}),
  };
  return { status: 'up', data: { ...base, mode: 'up', critical, redis, ...(memory ? { memory } : {}) } };
}
