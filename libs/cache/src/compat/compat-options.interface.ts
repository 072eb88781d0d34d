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
 * tiercache option to use. Redis, the memory tier and every other tiercache setting go under `tiercache`.
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
  /** `set`, `mset`, `del`, `mdel` and `clear` resolve without waiting for Redis. @default false */
  nonBlocking?: boolean;
  /** Accepted: tiercache writes and refreshes every tier. @default false */
  refreshAllStores?: boolean;
  /** What `cacheId()` returns. @default a random id */
  cacheId?: string;
  /**
   * Keyv / Cacheable store instances are NOT supported (boot fails naming the fix): tiercache keeps its own tiers,
   * configured with `tiercache: { redis, memory }`. @default undefined
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
