import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { CacheStore } from './backends/cache-store.js';
import { loadClassTransformer } from './codec/class-transformer.adapter.js';
import { CACHE_BACKEND, CACHE_OPTIONS } from './cache.constants.js';
import { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN } from './cache-module.definition.js';
import { CacheService } from './cache.service.js';
import { CacheExplorer } from './discovery/cache.explorer.js';
import { CacheMetadataAccessor } from './discovery/cache-metadata.accessor.js';
import type { CacheModuleOptions } from './options/cache-options.interface.js';
import { resolveOptions } from './options/options.resolver.js';
import type { ResolvedCacheOptions } from './options/resolved-options.js';

/**
 * The cache module. Options are validated once at boot (a bad option stops boot, naming it); Redis is connected
 * with a bounded wait (unreachable → the app boots and serves from the source).
 * @example
 * CacheModule.forRootAsync({ inject: [ConfigService], useFactory: (c: ConfigService) => ({ redis: c.get('REDIS_URL'), prefix: 'bot' }) })
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: CACHE_OPTIONS,
      inject: [MODULE_OPTIONS_TOKEN],
      useFactory: (options: CacheModuleOptions): ResolvedCacheOptions => resolveOptions(options),
    },
    {
      provide: CACHE_BACKEND,
      inject: [CACHE_OPTIONS],
      useFactory: async (options: ResolvedCacheOptions): Promise<CacheStore> => {
        await loadClassTransformer();
        const store = new CacheStore(options);
        if (options.enabled) await store.connect();
        return store;
      },
    },
    CacheMetadataAccessor,
    CacheService,
    CacheExplorer,
  ],
  exports: [CacheService, CACHE_OPTIONS, CACHE_BACKEND],
})
export class CacheModule extends ConfigurableModuleClass {}
