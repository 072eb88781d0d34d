// The public surface of nestjs-tiercache: what a user writes in an app. Observability lives in the subpaths
// `nestjs-tiercache/metrics` and `nestjs-tiercache/health`, so their peers (prom-client, terminus) stay optional.
export { CacheModule } from './cache.module.js';
export type { CacheOptionsFactory } from './cache-module.definition.js';
export { CacheService } from './cache.service.js';
export { getCacheToken, InjectCache } from './cache-injection.js';
export type { CacheSetOptions, CacheStatsSnapshot, GetOrSetOptions, ListOptions } from './cache-service.types.js';
export { Cached } from './decorators/cached.decorator.js';
export { CachePut } from './decorators/cache-put.decorator.js';
export { CacheInvalidate } from './decorators/cache-invalidate.decorator.js';
export { WarmUp } from './decorators/warm-up.decorator.js';
export type { WarmUpOptions } from './decorators/warm-up.decorator.js';
export type { WarmEntries, WarmOptions, WarmReport } from './warming/warm.types.js';
export type { CachedOptions, CacheInvalidateOptions, CachePutOptions } from './decorators/cache-decorator.options.js';
export type {
  CacheModuleOptions,
  LeaseOptions,
  MemoryTierOptions,
  NamespaceOptions,
  RedisConnectionOptions,
  RedisNode,
  Ttl,
} from './options/cache-options.interface.js';
export type { Duration } from './options/duration.js';
export { composeKey } from './keys/composite-key.js';
export type { KeyPart } from './keys/composite-key.js';
export { CacheError } from './errors/cache.error.js';
export type { CacheErrorCode } from './errors/cache.error.js';
export { CacheEvents } from './events/cache.events.js';
export type { CacheBackendEvent, CacheInvalidatedEvent } from './events/cache.events.js';
export type { NamespaceStats } from './observability/cache-stats.recorder.js';
