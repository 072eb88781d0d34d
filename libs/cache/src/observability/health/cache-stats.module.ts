import { Controller, Module } from '@nestjs/common';
import type { DynamicModule, Provider, Type } from '@nestjs/common';
import { DiscoveryModule, DiscoveryService, ModuleRef } from '@nestjs/core';
import { getCacheToken } from '../../cache-injection.js';
import { DEFAULT_CACHE_NAME } from '../../cache.constants.js';
import type { CacheService } from '../../cache.service.js';
import { registeredCaches } from '../../discovery/registered-caches.js';
import { CacheStatsController } from './cache-stats.controller.js';
import { CacheStatsReporter } from './cache-stats.reporter.js';

/**
 * Options of `CacheStatsModule.register`.
 * @example CacheStatsModule.register({ path: 'admin/cache' })
 */
export interface CacheStatsModuleOptions {
  /** Route of the stats endpoint, or `false` for the reporter only (no route). @default 'cache/stats' */
  path?: string | false;
  /** The cache reported (`CacheModule.forRoot({ name })`); an unknown name stops the boot. @default 'default' */
  cache?: string;
}

/**
 * Opt-in stats endpoint (GET /cache/stats by default) and the injectable {@link CacheStatsReporter} behind it, for
 * one cache of the app (the default one unless `cache` names another).
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
    const cache = options.cache ?? DEFAULT_CACHE_NAME;
    getCacheToken(cache); // a malformed name throws here, naming it
    const reporter: Provider = {
      provide: CacheStatsReporter,
      inject: [DiscoveryService, ModuleRef],
      useFactory: (discovery: DiscoveryService, ref: ModuleRef) =>
        new CacheStatsReporter(
          () => registeredCaches(discovery),
          cache,
          (name) => ref.get<CacheService>(getCacheToken(name), { strict: false }),
        ),
    };
    return {
      module: CacheStatsModule,
      imports: [DiscoveryModule],
      providers: [reporter],
      controllers,
      exports: [CacheStatsReporter],
    };
  }
}
