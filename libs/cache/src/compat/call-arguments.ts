import { CacheError } from '../errors/cache.error.js';
import { ErrorMessages } from '../errors/error-messages.js';
import { describe } from '../options/duration.js';
import type { WrapOptions } from './cache-manager.interface.js';

/** The TTL argument of `wrap`: milliseconds, or a function of the loaded value. */
export type TtlArg<T> = number | ((value: T) => number) | undefined;

/**
 * A key argument of the cache-manager API as a string (finite numbers are accepted, as cache-manager does),
 * refused with a CacheError otherwise.
 * @example keyOf('get', 42) // '42'
 */
export function keyOf(where: string, key: unknown): string {
  if (typeof key === 'string' && key.length > 0) return key;
  if (typeof key === 'number' && Number.isFinite(key)) return String(key);
  throw new CacheError('E_MISUSE', ErrorMessages.compatKey(`cache.${where}`, describe(key)));
}

/**
 * A list argument (mget, mset, mdel), refused with a CacheError when it is not an array.
 * @example arrayOf('mget', keys).map((k) => keyOf('mget', k))
 */
export function arrayOf<T>(where: string, list: T[]): T[] {
  if (!Array.isArray(list)) throw new CacheError('E_MISUSE', ErrorMessages.compatKey(`cache.${where}`, describe(list)));
  return list;
}

/**
 * One `mset` item, refused with a CacheError when it is not an object.
 * @example const { key, value, ttl } = itemOf(item);
 */
export function itemOf<T>(item: { key: string; value: T; ttl?: number }): { key: string; value: T; ttl?: number } {
  if (typeof item !== 'object' || item === null)
    throw new CacheError('E_MISUSE', ErrorMessages.compatKey('cache.mset', describe(item)));
  return item;
}

/**
 * A TTL in milliseconds above zero, refused with a CacheError otherwise.
 * @example positive(ttl, 'set ttl')
 */
export function positive(ms: number, where: string): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0)
    throw new CacheError(
      'E_MISUSE',
      ErrorMessages.misuse(
        `cache.${where}`,
        `${describe(ms)} is not a TTL in milliseconds above zero`,
        'pass a number of milliseconds, e.g. 60_000',
      ),
    );
  return ms;
}

/**
 * `wrap`'s third and fourth arguments (a TTL and a threshold, or an options object) as one options object.
 * @example wrapOptionsOf(60_000, 5_000) // { ttl: 60000, refreshThreshold: 5000 }
 */
export function wrapOptionsOf<T>(
  ttlOrOptions: TtlArg<T> | WrapOptions<T> | (WrapOptions<T> & { raw: true }),
  refreshThreshold: number | undefined,
): WrapOptions<T> & { raw?: true } {
  if (typeof ttlOrOptions === 'object' && ttlOrOptions !== null) return ttlOrOptions;
  return {
    ...(ttlOrOptions !== undefined ? { ttl: ttlOrOptions } : {}),
    ...(refreshThreshold !== undefined ? { refreshThreshold } : {}),
  };
}

/**
 * cache-manager's refreshThreshold (ms left) as tiercache's eagerRefresh (fraction of the TTL passed).
 * @example eagerFraction(2_000, 10_000, 'wrap') // 0.8
 */
export function eagerFraction(thresholdMs: number, ttl: unknown, where: string): number {
  if (typeof ttl !== 'number' || !(thresholdMs > 0) || !(thresholdMs < ttl))
    throw new CacheError(
      'E_MISUSE',
      ErrorMessages.misuse(
        where,
        `refreshThreshold ${describe(thresholdMs)} needs a numeric ttl above it (got ${describe(ttl)})`,
        'give a numeric ttl larger than refreshThreshold, or use tiercache eagerRefresh (a fraction of the TTL, e.g. 0.8)',
      ),
    );
  return 1 - thresholdMs / ttl;
}
