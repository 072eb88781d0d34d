import { CACHED_METADATA } from '../cache.constants.js';
import type { AsyncMethod, CachedOptions } from './cache-decorator.options.js';
import { recordMetadata } from './record-metadata.js';

/**
 * Cache-aside on any provider method: a hit returns the cached value; a miss runs the method once per key
 * (concurrent callers share it) and caches its result. Records metadata only; the explorer wraps at bootstrap.
 * @example
 * @Cached({ namespace: 'user', key: (userId: number) => userId, invalidateOn: { 'payment.completed': (e: PaymentCompleted) => e.userId } })
 * getUser(userId: number): Promise<User | null> { ... }
 */
export function Cached<A extends unknown[] = never[]>(options: CachedOptions<A> = {}) {
  return <M extends AsyncMethod>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<M>,
  ): void => recordMetadata(CACHED_METADATA, options, target, propertyKey, descriptor);
}
