import { Get, Inject } from '@nestjs/common';
import { CacheStatsReporter } from './cache-stats.reporter.js';
import type { CacheStatsReport } from './cache-stats.reporter.js';

/**
 * GET `<path>` → the cache stats report as JSON. Not routed by itself: `CacheStatsModule.register({ path })` mounts a
 * subclass at the chosen path. Guard it like any admin endpoint (it reveals namespaces and sizes, never keys).
 * @example CacheStatsModule.register({ path: 'cache/stats' })
 */
export class CacheStatsController {
  constructor(@Inject(CacheStatsReporter) private readonly reporter: CacheStatsReporter) {}

  @Get()
  stats(): Promise<CacheStatsReport> {
    return this.reporter.report();
  }
}
