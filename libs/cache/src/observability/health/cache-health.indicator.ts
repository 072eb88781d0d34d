import type { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import type { CacheStore } from '../../backends/cache-store.js';
import type { ResolvedCacheOptions } from '../../options/resolved-options.js';
import type { CacheHealthOptions, ResolvedHealthOptions } from './cache-health.options.js';
import { resolveHealthOptions } from './cache-health.options.js';
import type { RedisProbeFailure } from './redis.probe.js';
import { RedisProbe } from './redis.probe.js';

/**
 * `up`: caching with every configured tier; `degraded`: Redis unreachable, serving from the source/memory; `disabled`: CACHE_ENABLED=false.
 * @example if (result.cache.mode === 'degraded') alert();
 */
export type CacheHealthMode = 'up' | 'degraded' | 'disabled';

/**
 * The data a cache health result carries. Never an address, URL or credential.
 * @example { mode: 'degraded', backend: 'tiered', critical: false, redis: { connected: false, reason: 'unreachable' } }
 */
export type CacheHealthData = {
  mode: CacheHealthMode;
  backend: 'memory' | 'redis' | 'tiered';
  /** Whether an unreachable Redis fails the check (present when Redis is configured). */
  critical?: boolean;
  redis?: { connected: boolean; latencyMs?: number; usedMemoryBytes?: number; reason?: RedisProbeFailure };
  memory?: { entries: number; bytes: number };
};

/**
 * Terminus indicator of the cache, on the cache's own Redis connection: PING with a deadline, its latency, Redis
 * used memory, and the mode. An unreachable Redis is `degraded` (the check passes) unless `critical: true` makes it
 * `down`. Provided by `CacheHealthModule`.
 * @example
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.cache.isHealthy('cache')]); }
 */
export class CacheHealthIndicator {
  private readonly probe: RedisProbe | undefined;

  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly store: CacheStore,
    private readonly cacheOptions: ResolvedCacheOptions,
    private readonly defaults: ResolvedHealthOptions,
  ) {
    this.probe = store.redis ? new RedisProbe(store.redis) : undefined;
  }

  /**
   * Checks the cache under `key`; `options` override the module-wide ones for this call.
   * @default key 'cache'
   */
  async isHealthy<const Key extends string = 'cache'>(
    key: Key = 'cache' as Key,
    options?: CacheHealthOptions,
  ): Promise<HealthIndicatorResult<Key>> {
    const { critical, timeoutMs } = resolveHealthOptions(options, this.defaults);
    const session = this.indicators.check(key);
    const backend = this.store.backend.kind;
    const memory = this.store.memoryUsage ?? undefined;
    if (!this.cacheOptions.enabled) return session.up<CacheHealthData>({ mode: 'disabled', backend });
    if (!this.probe) return session.up<CacheHealthData>({ mode: 'up', backend, ...(memory ? { memory } : {}) });
    const ping = await this.probe.ping(timeoutMs);
    if (!ping.ok) {
      const data: CacheHealthData = {
        mode: 'degraded',
        backend,
        critical,
        redis: { connected: false, reason: ping.reason },
        ...(memory ? { memory } : {}),
      };
      return critical ? session.down(data) : session.degraded(data);
    }
    const info = await this.probe.info(timeoutMs);
    const redis = {
      connected: true,
      latencyMs: ping.latencyMs,
      ...(info?.usedMemoryBytes !== undefined ? { usedMemoryBytes: info.usedMemoryBytes } : {}),
    };
    return session.up<CacheHealthData>({ mode: 'up', backend, critical, redis, ...(memory ? { memory } : {}) });
  }
}
