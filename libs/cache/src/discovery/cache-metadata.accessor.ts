import { Injectable } from '@nestjs/common';
import {
  CACHE_INVALIDATE_METADATA,
  CACHE_PUT_METADATA,
  CACHE_WARM_METADATA,
  CACHED_METADATA,
} from '../cache.constants.js';
import type { CachedOptions, CacheInvalidateOptions, CachePutOptions } from '../decorators/cache-decorator.options.js';
import type { WarmUpOptions } from '../decorators/warm-up.decorator.js';

/** The cache decorators found on one method. */
export interface CacheMethodMetadata {
  cached: CachedOptions<unknown[]> | undefined;
  put: CachePutOptions<unknown[]> | undefined;
  invalidate: CacheInvalidateOptions<unknown[]>[];
  /** How many @Cached / @CachePut sit on the method (more than one is a boot error). */
  cachedCount: number;
  putCount: number;
}

/** The only reader of the decorators' metadata. */
@Injectable()
export class CacheMetadataAccessor {
  /** Returns the cache metadata of a method, or undefined when it has no cache decorator. */
  get(method: unknown): CacheMethodMetadata | undefined {
    if (typeof method !== 'function') return undefined;
    const cached = Reflect.getMetadata(CACHED_METADATA, method) as CachedOptions<unknown[]>[] | undefined;
    const put = Reflect.getMetadata(CACHE_PUT_METADATA, method) as CachePutOptions<unknown[]>[] | undefined;
    const invalidate = Reflect.getMetadata(CACHE_INVALIDATE_METADATA, method) as
      CacheInvalidateOptions<unknown[]>[] | undefined;
    if (!cached && !put && !invalidate) return undefined;
    return {
      cached: cached?.[0],
      put: put?.[0],
      invalidate: invalidate ?? [],
      cachedCount: cached?.length ?? 0,
      putCount: put?.length ?? 0,
    };
  }

  /** The `@WarmUp` options of a method, or undefined. */
  warmUp(method: unknown): WarmUpOptions | undefined {
    if (typeof method !== 'function') return undefined;
    return (Reflect.getMetadata(CACHE_WARM_METADATA, method) as WarmUpOptions[] | undefined)?.[0];
  }
}
