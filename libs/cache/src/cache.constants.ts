/** Injection token of the resolved options (defaults filled, validated). */
export const CACHE_OPTIONS = Symbol('tiercache:options');
/** Injection token of the backend the service uses (memory, Redis, or tiered). */
export const CACHE_BACKEND = Symbol('tiercache:backend');
/** Injection token of the Redis connections holder. */
export const CACHE_CONNECTIONS = Symbol('tiercache:connections');
/** Metadata keys written by the decorators. */
export const CACHED_METADATA = 'tiercache:cached';
export const CACHE_PUT_METADATA = 'tiercache:cache-put';
export const CACHE_INVALIDATE_METADATA = 'tiercache:cache-invalidate';
export const CACHE_WARM_METADATA = 'tiercache:warm-up';
