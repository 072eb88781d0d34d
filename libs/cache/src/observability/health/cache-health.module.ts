import { Module } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { DiscoveryModule, DiscoveryService, ModuleRef } from '@nestjs/core';
import { registeredCaches } from '../../discovery/registered-caches.js';
import { CacheHealthIndicator } from './cache-health.indicator.js';
import type { CheckedCache } from './cache-health.indicator.js';
import type { CacheHealthOptions } from './cache-health.options.js';
import { resolveHealthOptions } from './cache-health.options.js';

/**
 * Provides {@link CacheHealthIndicator} (with Terminus' HealthIndicatorService) over every cache of the app.
 * `@nestjs/terminus` is loaded only when this module is used.
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
      imports: [DiscoveryModule, import('@nestjs/terminus').then(({ TerminusModule }) => ({ module: TerminusModule }))],
      providers: [
        {
          provide: CacheHealthIndicator,
          inject: [ModuleRef, DiscoveryService],
          useFactory: async (ref: ModuleRef, discovery: DiscoveryService): Promise<CacheHealthIndicator> => {
            const { HealthIndicatorService } = await import('@nestjs/terminus');
            const caches = (): CheckedCache[] =>
              registeredCaches(discovery).map((e) => ({ name: e.options.name, store: e.store, options: e.options }));
            return new CacheHealthIndicator(ref.get(HealthIndicatorService, { strict: false }), caches, defaults);
          },
        },
      ],
      exports: [CacheHealthIndicator],
    };
  }
}
