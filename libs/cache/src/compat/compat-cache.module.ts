import { Module } from '@nestjs/common';
import type { DynamicModule, Provider } from '@nestjs/common';
import { CACHE_ENGINE } from '../cache.constants.js';
import { CacheModule as TierCacheModule } from '../cache.module.js';
import { CacheService } from '../cache.service.js';
import type { CacheEngine } from '../engine/cache-engine.js';
import { CACHE_MANAGER } from './compat.constants.js';
import { CACHE_MODULE_OPTIONS, CompatOptionsHost } from './compat-module.definition.js';
import type { CacheModuleAsyncOptions, CacheModuleOptions } from './compat-options.interface.js';
import { compatSettings, toTierOptions } from './compat-options.mapper.js';
import type { Cache as CacheApi } from './cache-manager.interface.js';
import { KeyvCacheManager } from './keyv-cache-manager.js';
import { storesOf } from './keyv-store.js';
import { TierCacheManager } from './tier-cache-manager.js';

/**
 * Injection token and type of the cache, as @nestjs/cache-manager's `Cache` class: `constructor(private cache: Cache)`
 * works without `@Inject(CACHE_MANAGER)`.
 * @example constructor(private readonly cache: Cache) {}
 */
// Declaration merging, as @nestjs/cache-manager does: the class is the token, the interface its API.
/* eslint-disable @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type */
export abstract class Cache {}
export interface Cache extends CacheApi {}
/* eslint-enable @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type */

/**
 * @nestjs/cache-manager's `CacheModule` with tiercache underneath: `register` / `registerAsync` take its options
 * (`ttl` in ms, `max`, `isGlobal`, `namespace`, `stores`, ...; tiercache's under `tiercache`), provide
 * `CACHE_MANAGER` and `Cache` (over the app's Keyv `stores` when given, else tiercache's tiers), and export
 * tiercache's `CacheService` for code that moves on to the native API.
 * @example CacheModule.register({ ttl: 5_000, isGlobal: true, tiercache: { redis: process.env.REDIS_URL } })
 */
@Module({})
export class CacheModule {
  /** Configures the cache statically. */
  static register(options: CacheModuleOptions = {}): DynamicModule {
    return build(CompatOptionsHost.register(options), options.isGlobal === true);
  }

  /** Configures the cache from a factory, a class or an existing provider (plus `extraProviders` it may inject). */
  static registerAsync(options: CacheModuleAsyncOptions): DynamicModule {
    const { extraProviders, isGlobal, ...rest } = options;
    const host = CompatOptionsHost.registerAsync(rest as Parameters<typeof CompatOptionsHost.registerAsync>[0]);
    return build({ ...host, providers: [...(host.providers ?? []), ...(extraProviders ?? [])] }, isGlobal === true);
  }
}

function build(optionsModule: DynamicModule, isGlobal: boolean): DynamicModule {
  const options: DynamicModule = { ...optionsModule, exports: [CACHE_MODULE_OPTIONS] };
  const tier = TierCacheModule.forRootAsync({
    imports: [options],
    inject: [CACHE_MODULE_OPTIONS],
    useFactory: (o: CacheModuleOptions) => toTierOptions(o),
    isGlobal,
  });
  const manager: Provider = {
    provide: CACHE_MANAGER,
    inject: [CACHE_MODULE_OPTIONS, CacheService, CACHE_ENGINE],
    // With `stores`, CACHE_MANAGER is cache-manager over the app's Keyv stores; without, tiercache's own tiers.
    useFactory: (o: CacheModuleOptions, service: CacheService, engine: CacheEngine): CacheApi | Promise<CacheApi> => {
      const stores = storesOf(o?.stores);
      return stores
        ? KeyvCacheManager.create(stores, compatSettings(o), engine)
        : new TierCacheManager(service, engine, compatSettings(o));
    },
  };
  return {
    module: CacheModule,
    global: isGlobal,
    imports: [options, tier],
    providers: [manager, { provide: Cache, useExisting: CACHE_MANAGER }],
    exports: [CACHE_MANAGER, Cache, tier],
  };
}
