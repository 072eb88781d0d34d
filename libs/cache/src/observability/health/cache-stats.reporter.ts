import { Inject, Injectable } from '@nestjs/common';
import { CACHE_ENGINE } from '../../cache.constants.js';
import { CacheService } from '../../cache.service.js';
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
 * Builds the stats report: hit rate per namespace, memory-tier entries/bytes and evictions (from
 * `CacheService.stats()`), plus Redis round-trip time, key count and memory from a bounded PING + INFO.
 * @example
 * const report = await reporter.report(); // report.namespaces.user.hitRate, report.redis?.rttMs
 */
@Injectable()
export class CacheStatsReporter {
  private readonly probe: RedisProbe | undefined;

  constructor(
    private readonly cache: CacheService,
    @Inject(CACHE_ENGINE) engine: CacheEngine,
  ) {
    const redis = engine.store.redis;
    this.probe = redis ? new RedisProbe(redis) : undefined;
  }

  /**
   * The report; never throws (an unreachable Redis gives nulls).
   * @param timeoutMs deadline of the PING and of the INFO. @default 1000
   */
  async report(timeoutMs = 1000): Promise<CacheStatsReport> {
    const stats = this.cache.stats();
    if (!this.probe || !stats.enabled) return { ...stats, redis: null };
    const ping = await this.probe.ping(timeoutMs);
    const info = ping.ok ? await this.probe.info(timeoutMs) : undefined;
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
}
