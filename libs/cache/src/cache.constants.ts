/** Injection token of the resolved options (defaults filled, validated). Internal. */
export const CACHE_OPTIONS = Symbol('tiercache:options');
/** Injection token of the engine of one module (key space, backends, invalidation). Internal. */
export const CACHE_ENGINE = Symbol('tiercache:engine');
/** Injection token of the cache's name (`forRoot({ name })`, else {@link DEFAULT_CACHE_NAME}). Internal. */
export const CACHE_NAME = Symbol('tiercache:name');
/** The name of the cache `forRoot` registers without `name`, and that decorators use without `cache`. */
export const DEFAULT_CACHE_NAME = 'default';
/** Metadata keys written by the decorators. */
export const CACHED_METADATA = 'tiercache:cached';
export const CACHE_PUT_METADATA = 'tiercache:cache-put';
export const CACHE_INVALIDATE_METADATA = 'tiercache:cache-invalidate';
export const CACHE_WARM_METADATA = 'tiercache:warm-up';
