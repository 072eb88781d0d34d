import { CACHE_PUT_METADATA } from '../cache.constants.js';
import type { AsyncMethod, CachePutFit, CachePutOptions } from './cache-decorator.options.js';
import { recordMetadata } from './record-metadata.js';

/**
 * Write-through: after the method resolves, its result replaces the entry (on every instance). The method always
 * runs. Records metadata only.
 * @example
 * @CachePut({ namespace: 'user', key: (userId: number) => userId })
 * charge(userId: number, amount: string): Promise<User> { ... }
 */
export function CachePut<A extends unknown[] = never[], K = unknown, V = unknown>(
  options: CachePutOptions<A, K, V> = {},
) {
  return <M extends AsyncMethod>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<M> & CachePutFit<A, V, M>,
  ): void => recordMetadata(CACHE_PUT_METADATA, options, target, propertyKey, descriptor);
}
