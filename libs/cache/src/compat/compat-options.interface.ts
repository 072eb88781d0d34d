import type {
  DynamicModule,
  ForwardReference,
  InjectionToken,
  OptionalFactoryDependency,
  Provider,
  Type,
} from '@nestjs/common';
import type { CacheModuleOptions as TierCacheModuleOptions } from '../options/cache-options.interface.js';

/**
 * @nestjs/cache-manager's options, as far as tiercache honours them; anything else stops the boot naming the
 * tiercache option to use. Redis, the memory tier and every other tiercache setting go under `tiercache`; Keyv
 * `stores` are used through an adapter.
 * @example CacheModule.register({ ttl: 5_000, max: 1_000, tiercache: { redis: process.env.REDIS_URL, prefix: 'app' } })
 */
export interface CacheManagerOptions {
  /** Default time to live in milliseconds (tiercache always expires entries). @default 5000, or `tiercache.defaultTtl` */
  ttl?: number;
  /** Entries kept in the in-process tier (tiercache `memory.maxEntries`). @default 10000 */
  max?: number;
  /** Namespace of every `CACHE_MANAGER` key (`<prefix>:<namespace>:<key>`). @default 'keyv' */
  namespace?: string;
  /** Refresh in the background when less than this many ms of the TTL are left (needs `ttl`). @default undefined (off) */
  refreshThreshold?: number;
  /**
   * `set`, `mset`, `del`, `mdel` and `clear` resolve without waiting for Redis (or for the `stores`); with `stores`,
   * reads also race the stores and the first to answer wins, as cache-manager's. @default false
   */
  nonBlocking?: boolean;
  /**
   * With `stores`: a background refresh (`refreshThreshold`) rewrites every store, not only those up to the one that
   * answered. Without: accepted (tiercache writes and refreshes every tier). @default false
   */
  refreshAllStores?: boolean;
  /** What `cacheId()` returns. @default a random id */
  cacheId?: string;
  /**
   * cache-manager's stores, in read order: Keyv instances, a Cacheable, or Keyv storage adapters (e.g.
   * `new KeyvRedis(url)`, wrapped in a Keyv with `namespace`, which needs the app's `keyv` package); one store or a
   * list. `CACHE_MANAGER` and `CacheInterceptor` then use them with cache-manager 7's semantics, each store call
   * bounded by `tiercache.commandTimeout` and skipped behind a breaker while it keeps failing; what they write is
   * readable through the app's own instances, and they are disconnected when the app closes. `CacheService` and the
   * decorators keep using tiercache's own tiers (`tiercache: { redis, memory }`). Anything that is not a store stops
   * the boot. @default undefined (tiercache's tiers serve `CACHE_MANAGER`)
   * @example stores: [new Keyv({ store: new CacheableMemory({ lruSize: 5000 }) }), new KeyvRedis('redis://localhost:6379')]
   */
  stores?: unknown;
  /** Any tiercache option (`redis`, `prefix`, `memory`, `namespaces`, `commandTimeout`, …). @default {} */
  tiercache?: TierCacheModuleOptions;
}

/** The options of `CacheModule.register`: cache-manager's plus `isGlobal`. */
export interface CacheModuleOptions extends CacheManagerOptions {
  /** Register the module globally (CACHE_MANAGER, `Cache` and `CacheService` injectable everywhere). @default false */
  isGlobal?: boolean;
}

/** Alias of {@link CacheManagerOptions} under @nestjs/cache-manager's other name. */
export type CacheOptions = CacheManagerOptions;

/**
 * A class that `registerAsync({ useClass })` / `useExisting` can use to produce the options.
 * @example @Injectable() class CacheConfig implements CacheOptionsFactory { createCacheOptions() { return { ttl: 5_000 }; } }
 */
export interface CacheOptionsFactory {
  createCacheOptions(): Promise<CacheManagerOptions> | CacheManagerOptions;
}

/**
 * The options of `CacheModule.registerAsync`, as @nestjs/cache-manager's.
 * @example CacheModule.registerAsync({ imports: [ConfigModule], inject: [ConfigService], useFactory: (c: ConfigService) => ({ ttl: c.get('CACHE_TTL') }) })
 */
export interface CacheModuleAsyncOptions {
  imports?: (Type | DynamicModule | Promise<DynamicModule> | ForwardReference)[];
  useExisting?: Type<CacheOptionsFactory>;
  useClass?: Type<CacheOptionsFactory>;
  useFactory?: (...args: never[]) => Promise<CacheManagerOptions> | CacheManagerOptions;
  inject?: (InjectionToken | OptionalFactoryDependency)[];
  /** Extra providers registered beside the options factory (what it may inject). */
  extraProviders?: Provider[];
  /** Register the module globally. @default false */
  isGlobal?: boolean;
}
