import type { LeaseOptions, Ttl } from '../options/cache-options.interface.js';
import type { Duration } from '../options/duration.js';

/** A function of the decorated method's arguments. */
export type ArgsFn<A extends unknown[], R> = (...args: A) => R;

/** Shared by every cache decorator: where the entry lives. */
export interface CacheTargetOptions<A extends unknown[]> {
  /**
   * The namespace (`[A-Za-z0-9_.-]`, TTL and size limits come from `namespaces[namespace]`).
   * @default '<ClassName>.<methodName>'
   */
  namespace?: string;
  /**
   * The entry's key, from the arguments. A string is used verbatim, a number in decimal, anything else through the
   * stable encoding. @default a stable, injective encoding of all arguments
   */
  key?: ArgsFn<A, unknown>;
}

/**
 * Options of `@Cached`.
 * @example @Cached({ namespace: 'user', key: (id: number) => id, ttl: '1h' })
 */
export interface CachedOptions<A extends unknown[] = never[]> extends CacheTargetOptions<A> {
  /** TTL of this method's entries: a duration or a function of the result. @default the namespace's TTL */
  ttl?: Ttl;
  /** Tags to invalidate entries by (`cache.invalidateTags`), from the arguments. @default none */
  tags?: readonly string[] | ArgsFn<A, readonly string[]>;
  /** Cache a `null` result. @default the module's `cacheNull` (true) */
  cacheNull?: boolean;
  /** Use the cache for this call only when it returns true. @default always */
  condition?: ArgsFn<A, boolean>;
  /** Fail-safe grace period past the TTL. @default the namespace's */
  grace?: Duration;
  /** Soft loader timeout (answers with a stale value in grace). @default the namespace's */
  softTimeout?: Duration;
  /** Hard loader timeout. @default the namespace's */
  hardTimeout?: Duration;
  /** Eager refresh threshold (fraction of the TTL). @default the namespace's */
  eagerRefresh?: number;
  /** Distributed stampede lease across instances. @default the namespace's */
  lease?: boolean | LeaseOptions;
  /**
   * The class of the result: hits are restored as instances of it (class-transformer `plainToInstance`), so a
   * `ClassSerializerInterceptor` treats hits like misses. @default none (hits are plain objects)
   */
  type?: new (...args: never[]) => unknown;
  /**
   * Events (through @nestjs/event-emitter) that invalidate entries of this method: event name → the key(s) the
   * payload invalidates (same key space as `key`). Return `undefined` to invalidate nothing.
   * @example invalidateOn: { 'payment.completed': (e: PaymentCompleted) => e.userId }
   */
  // The payload type is the listener's business: each entry narrows it in its own signature.
  invalidateOn?: Record<string, (payload: never) => unknown>;
}

/**
 * Options of `@CachePut`.
 * @example @CachePut({ namespace: 'user', key: (id: number) => id })
 */
export interface CachePutOptions<A extends unknown[] = never[]> extends CacheTargetOptions<A> {
  ttl?: Ttl;
  tags?: readonly string[] | ArgsFn<A, readonly string[]>;
}

/**
 * Options of `@CacheInvalidate`: one of `key`, `keys`, `tags` or `all` (the whole namespace).
 * @example @CacheInvalidate({ namespace: 'user', key: (id: number) => id })
 */
export interface CacheInvalidateOptions<A extends unknown[] = never[]> extends CacheTargetOptions<A> {
  /** Several keys at once. */
  keys?: ArgsFn<A, readonly unknown[]>;
  /** Tags to invalidate (across namespaces). */
  tags?: readonly string[] | ArgsFn<A, readonly string[]>;
  /** Clear the whole namespace. @default false */
  all?: boolean;
}

/** Any async method a cache decorator can sit on (a sync method is a compile error, and a boot error in JS). */
export type AsyncMethod = (...args: never[]) => Promise<unknown>;
