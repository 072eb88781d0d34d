import type { OnModuleInit } from '@nestjs/common';
import type { CacheService } from '../../cache.service.js';
import { CacheError } from '../../errors/cache.error.js';
import { ErrorMessages } from '../../errors/error-messages.js';
import type { CacheStatsSnapshot } from '../../cache-service.types.js';
import type { CacheEngine } from '../../engine/cache-engine.js';
import { RedisProbe } from './redis.probe.js';

/**
 * `CacheService.stats()` plus what only Redis can tell, measured now.
 * @example const { namespaces, redis } = await reporter.report(); // namespaces.user.hitRate, redis?.rttMs
 */
export interface CacheStatsReport extends CacheStatsSnapshot {
  /** Null without Redis or while caching is disabled. */
  redis: {
    connected: boolean;
    /** PING round trip in milliseconds; null when Redis did not answer. */
    rttMs: number | null;
    usedMemoryBytes: number | null;
    /** Keys in every database of the server (not only this prefix). */
    keys: number | null;
    evictedKeys: number | null;
    /** Server-wide keyspace_hits / (hits + misses). */
    keyspaceHitRate: number | null;
  } | null;
}

/**
 * Builds the stats report of one cache (the default one, or `CacheStatsModule.register({ cache })`): hit rate per
 * namespace, memory-tier entries/bytes and evictions (from `CacheService.stats()`), plus Redis round-trip time, key
 * count and memory from a bounded PING + INFO. Provided by `CacheStatsModule`.
 * @example
 * const report = await reporter.report(); // report.namespaces.user.hitRate, report.redis?.rttMs
 */
export class CacheStatsReporter implements OnModuleInit {
  readonly #find: () => CacheEngine[];
  readonly #cacheName: string;
  readonly #service: (name: string) => CacheService;
  #target: { service: CacheService; probe: RedisProbe | undefined } | undefined;

  constructor(find: () => CacheEngine[], cacheName: string, service: (name: string) => CacheService) {
    this.#find = find;
    this.#cacheName = cacheName;
    this.#service = service;
  }

  /** Finds the reported cache once every provider exists; an unknown name stops the boot. */
  onModuleInit(): void {
    this.#resolve();
  }

  /**
   * The report; never throws (an unreachable Redis gives nulls).
   * @param timeoutMs deadline of the PING and of the INFO. @default 1000
   */
  async report(timeoutMs = 1000): Promise<CacheStatsReport> {
    const { service, probe } = this.#resolve();
    const stats = service.stats();
    if (!probe || !stats.enabled) return { ...stats, redis: null };
    const deadline = typeof timeoutMs === 'number' && timeoutMs > 0 ? Math.min(timeoutMs, 60_000) : 1000;
    const ping = await probe.ping(deadline);
    const info = ping.ok ? await probe.info(deadline) : undefined;
    const lookups = (info?.keyspaceHits ?? 0) + (info?.keyspaceMisses ?? 0);
    return {
      ...stats,
      redis: {
        connected: ping.ok,
        rttMs: ping.ok ? ping.latencyMs : null,
        usedMemoryBytes: info?.usedMemoryBytes ?? null,
        keys: info ? info.keys : null,
        evictedKeys: info?.evictedKeys ?? null,
        keyspaceHitRate: info && lookups > 0 ? (info.keyspaceHits ?? 0) / lookups : null,
      },
    };
  }

  #resolve(): { service: CacheService; probe: RedisProbe | undefined } {
    if (this.#target) return this.#target;
    const engines = this.#find();
    const engine = engines.find((e) => e.options.name === this.#cacheName);
    if (!engine)
      throw new CacheError(
        'E_MISUSE',
        ErrorMessages.misuse(
          'CacheStatsModule',
          ErrorMessages.unknownCache(
            this.#cacheName,
            engines.map((e) => e.options.name),
          ),
          'pass { cache } naming a cache registered with CacheModule.forRoot({ name })',
        ),
      );
    const redis = engine.store.redis;
    this.#target = { service: this.#service(this.#cacheName), probe: redis ? new RedisProbe(redis) : undefined };
    return this.#target;
  }
}
