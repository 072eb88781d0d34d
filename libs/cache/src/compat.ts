// nestjs-tiercache/compat: a drop-in for @nestjs/cache-manager (same names and behaviour), tiercache underneath.
// Change `from '@nestjs/cache-manager'` to `from 'nestjs-tiercache/compat'`; see docs/MIGRATION.md.
export { CacheModule, Cache } from './compat/compat-cache.module.js';
export {
  CACHE_KEY_METADATA,
  CACHE_MANAGER,
  CACHE_SCOPE_METADATA,
  CACHE_TTL_METADATA,
} from './compat/compat.constants.js';
export { CACHE_MODULE_OPTIONS } from './compat/compat-module.definition.js';
export type {
  CacheManagerOptions,
  CacheModuleAsyncOptions,
  CacheModuleOptions,
  CacheOptions,
  CacheOptionsFactory,
} from './compat/compat-options.interface.js';
export type { CacheEvents, StoredDataRaw, WrapOptions, WrapOptionsRaw } from './compat/cache-manager.interface.js';
export { CacheKey } from './compat/cache-key.decorator.js';
export type { CacheKeyFactory } from './compat/cache-key.decorator.js';
export { CacheTTL } from './compat/cache-ttl.decorator.js';
export type { CacheTtlFactory } from './compat/cache-ttl.decorator.js';
export { CacheInterceptor } from './http/cache.interceptor.js';
export { CacheScope } from './http/cache-scope.decorator.js';
export type { CallerOf } from './http/cache-scope.decorator.js';
