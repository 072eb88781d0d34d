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
   * The entry's key, from the arguments, in the one key grammar shared by every path (`invalidateOn`,
   * `@CacheInvalidate`, `@CachePut`, `CacheService`): a string is the key as is; any other value is typed
   * (`42` and `'42'` are different keys). @default with one argument, that argument's key (so `cache.get(ns, 42)`
   * and `invalidateOn: (e) => e.id` reach `method(42)`); otherwise a typed encoding of the argument list
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
  /** Hard loader timeout; `false` disables it. @default the namespace's (30 s unless configured) */
  hardTimeout?: Duration | false;
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
   * Events (through @nestjs/event-emitter) that invalidate entries of this method: event name → the key value(s)
   * the payload invalidates, in the same grammar as `key` (without `key`, the one argument of the method). Return
   * `undefined` to invalidate nothing. A method without `key` that takes other than one argument is refused at boot.
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
