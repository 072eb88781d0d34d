import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { loadClassTransformer } from './codec/class-transformer.adapter.js';
import { CACHE_ENGINE, CACHE_NAME, CACHE_OPTIONS } from './cache.constants.js';
import { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN } from './cache-module.definition.js';
import { CacheService } from './cache.service.js';
import { CacheExplorer } from './discovery/cache.explorer.js';
import { CacheMetadataAccessor } from './discovery/cache-metadata.accessor.js';
import { CacheEngine } from './engine/cache-engine.js';
import type { CacheModuleOptions } from './options/cache-options.interface.js';
import { tracingRecorder } from './observability/tracing.recorder.js';
import { resolveOptions } from './options/options.resolver.js';
import type { ResolvedCacheOptions } from './options/resolved-options.js';

/**
 * The cache module. Options are validated once at boot (a bad option stops boot, naming it); Redis is connected
 * with a bounded wait (unreachable → the app boots and serves from the source). Decorated methods cache once the
 * app is initialized (`app.init()` / `app.listen()`). Several caches in one app are named: `forRoot({ name })`.
 * @example
 * CacheModule.forRootAsync({ inject: [ConfigService], useFactory: (c: ConfigService) => ({ redis: c.get('REDIS_URL'), prefix: 'bot' }) })
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: CACHE_OPTIONS,
      inject: [MODULE_OPTIONS_TOKEN, CACHE_NAME],
      useFactory: (options: CacheModuleOptions, name: string): ResolvedCacheOptions => resolveOptions(options, name),
    },
    {
      provide: CACHE_ENGINE,
      inject: [CACHE_OPTIONS, { token: EventEmitter2, optional: true }],
      useFactory: async (options: ResolvedCacheOptions, events?: EventEmitter2): Promise<CacheEngine> => {
        await loadClassTransformer();
        const engine = new CacheEngine(options, events);
        if (options.tracing) engine.telemetry.addRecorder(await tracingRecorder());
        await engine.connect();
        return engine;
      },
    },
    CacheMetadataAccessor,
    CacheService,
    CacheExplorer,
  ],
  // Exports are per registration (cache-module.definition.ts): the default cache exports CacheService, a named one
  // only its own token.
})
export class CacheModule extends ConfigurableModuleClass {}
