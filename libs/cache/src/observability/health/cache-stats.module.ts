import { Controller, Module } from '@nestjs/common';
import type { DynamicModule, Type } from '@nestjs/common';
import { CacheStatsController } from './cache-stats.controller.js';
import { CacheStatsReporter } from './cache-stats.reporter.js';

/**
 * Options of `CacheStatsModule.register`.
 * @example CacheStatsModule.register({ path: 'admin/cache' })
 */
export interface CacheStatsModuleOptions {
  /** Route of the stats endpoint, or `false` for the reporter only (no route). @default 'cache/stats' */
  path?: string | false;
}

/**
 * Opt-in stats endpoint (GET /cache/stats by default) and the injectable {@link CacheStatsReporter} behind it. Needs
 * CacheModule registered with `isGlobal: true`.
 * @example
 * imports: [CacheModule.forRoot({ redis: url, isGlobal: true }), CacheStatsModule.register({ path: 'cache/stats' })]
 */
@Module({})
export class CacheStatsModule {
  /** @default options { path: 'cache/stats' } */
  static register(options: CacheStatsModuleOptions = {}): DynamicModule {
    const path = options.path ?? 'cache/stats';
    const controllers: Type[] = [];
    if (path !== false) {
      // A subclass per registration, so two apps in one process can mount the endpoint at different paths.
      class MountedCacheStatsController extends CacheStatsController {}
      Controller(path)(MountedCacheStatsController);
      controllers.push(MountedCacheStatsController);
    }
    return { module: CacheStatsModule, providers: [CacheStatsReporter], controllers, exports: [CacheStatsReporter] };
  }
}
