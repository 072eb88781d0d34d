import { CACHE_INVALIDATE_METADATA } from '../cache.constants.js';
import type { AsyncMethod, CacheInvalidateFit, CacheInvalidateOptions } from './cache-decorator.options.js';
import { recordMetadata } from './record-metadata.js';

/**
 * Invalidates entries after the method resolves (never when it throws): a key, several keys, tags, or the whole
 * namespace. Records metadata only.
 * @example
 * @CacheInvalidate({ namespace: 'user', key: (userId: number) => userId })
 * setModel(userId: number, modelId: string): Promise<void> { ... }
 */
export function CacheInvalidate<A extends unknown[] = never[], K = unknown>(options: CacheInvalidateOptions<A, K>) {
  return <M extends AsyncMethod>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<M> & CacheInvalidateFit<A, M>,
  ): void => recordMetadata(CACHE_INVALIDATE_METADATA, options, target, propertyKey, descriptor);
}
