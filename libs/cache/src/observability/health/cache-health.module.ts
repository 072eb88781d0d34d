import { Module } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { CACHE_ENGINE } from '../../cache.constants.js';
import type { CacheEngine } from '../../engine/cache-engine.js';
import { CacheHealthIndicator } from './cache-health.indicator.js';
import type { CacheHealthOptions } from './cache-health.options.js';
import { resolveHealthOptions } from './cache-health.options.js';

/**
 * Provides {@link CacheHealthIndicator} (with Terminus' HealthIndicatorService). Needs CacheModule registered with
 * `isGlobal: true`. `@nestjs/terminus` is loaded only when this module is used.
 * @example
 * @Module({ imports: [TerminusModule, CacheHealthModule.forRoot({ critical: false })], controllers: [HealthController] })
 * export class HealthModule {}
 */
@Module({})
export class CacheHealthModule {
  /** @default options { critical: false, timeout: '1s' } */
  static forRoot(options: CacheHealthOptions = {}): DynamicModule {
    const defaults = resolveHealthOptions(options);
    return {
      module: CacheHealthModule,
      imports: [import('@nestjs/terminus').then(({ TerminusModule }) => ({ module: TerminusModule }))],
      providers: [
        {
          provide: CacheHealthIndicator,
          inject: [ModuleRef, CACHE_ENGINE],
          useFactory: async (ref: ModuleRef, engine: CacheEngine): Promise<CacheHealthIndicator> => {
            const { HealthIndicatorService } = await import('@nestjs/terminus');
            return new CacheHealthIndicator(
              ref.get(HealthIndicatorService, { strict: false }),
              engine.store,
              engine.options,
              defaults,
            );
          },
        },
      ],
      exports: [CacheHealthIndicator],
    };
  }
}
