/** Injection token of the resolved options (defaults filled, validated). Internal. */
export const CACHE_OPTIONS = Symbol('tiercache:options');
/** Injection token of the engine of one module (key space, backends, invalidation). Internal. */
export const CACHE_ENGINE = Symbol('tiercache:engine');
/** Metadata keys written by the decorators. */
export const CACHED_METADATA = 'tiercache:cached';
export const CACHE_PUT_METADATA = 'tiercache:cache-put';
export const CACHE_INVALIDATE_METADATA = 'tiercache:cache-invalidate';
export const CACHE_WARM_METADATA = 'tiercache:warm-up';
