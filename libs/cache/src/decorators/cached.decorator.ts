import { CACHED_METADATA } from '../cache.constants.js';
import type { AsyncMethod, CachedFit, CachedOptions } from './cache-decorator.options.js';
import { recordMetadata } from './record-metadata.js';

/**
 * Cache-aside on any provider method: a hit returns the cached value; a miss runs the method once per key
 * (concurrent callers share it) and caches its result. Records metadata only; the explorer wraps at bootstrap.
 * @example
 * @Cached({ namespace: 'user', key: (userId: number) => userId, invalidateOn: { 'payment.completed': (e: PaymentCompleted) => e.userId } })
 * getUser(userId: number): Promise<User | null> { ... }
 */
export function Cached<A extends unknown[] = never[], K = unknown, V = unknown, E = never>(
  options: CachedOptions<A, K, V, E> = {},
) {
  // The options are checked against the method they decorate: key / tags / condition against its parameters, a ttl
  // function against its result, invalidateOn against its key — a mismatch is a compile error.
  return <M extends AsyncMethod>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<M> & CachedFit<A, K, V, E, M>,
  ): void => recordMetadata(CACHED_METADATA, options, target, propertyKey, descriptor);
}
