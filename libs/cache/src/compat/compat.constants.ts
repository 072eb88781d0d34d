/**
 * Injection token of the cache-manager 7 style cache, the same string as @nestjs/cache-manager's, so
 * `@Inject(CACHE_MANAGER)` and `Test.overrideProvider(CACHE_MANAGER)` keep working after the import changes.
 * @example constructor(@Inject(CACHE_MANAGER) private readonly cache: Cache) {}
 */
export const CACHE_MANAGER = 'CACHE_MANAGER';
/** Metadata key of `@CacheKey` (the same string as @nestjs/cache-manager's, so either decorator is read). */
export const CACHE_KEY_METADATA = 'cache_module:cache_key';
/** Metadata key of `@CacheTTL` (the same string as @nestjs/cache-manager's). */
export const CACHE_TTL_METADATA = 'cache_module:cache_ttl';
/** Metadata key of `@CacheScope` (tiercache's own: who a cached HTTP response may be served to). */
export const CACHE_SCOPE_METADATA = 'tiercache:http-scope';
