import type { LeaseOptions } from '../options/cache-options.interface.js';
import type { Duration } from '../options/duration.js';

/** A function of the decorated method's arguments. */
export type ArgsFn<A extends unknown[], R> = (...args: A) => R;

/** Shared by every cache decorator: where the entry lives. */
export interface CacheTargetOptions<A extends unknown[], K = unknown> {
  /**
   * The cache (`CacheModule.forRoot({ name })`) this decorator uses; every cache decorator on one method names the
   * same one. A name no `forRoot` registers stops the boot. @default 'default' (the unnamed cache)
   */
  cache?: string;
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
  key?: ArgsFn<A, K>;
}

/**
 * Options of `@Cached`.
 * @example @Cached({ namespace: 'user', key: (id: number) => id, ttl: '1h' })
 */
export interface CachedOptions<
  A extends unknown[] = never[],
  K = unknown,
  V = unknown,
  E = unknown,
> extends CacheTargetOptions<A, K> {
  /** TTL of this method's entries: a duration or a function of the result. @default the namespace's TTL */
  ttl?: Duration | ((value: V) => Duration);
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
  invalidateOn?: Record<string, (payload: never) => E>;
}

/**
 * Options of `@CachePut`.
 * @example @CachePut({ namespace: 'user', key: (id: number) => id })
 */
export interface CachePutOptions<A extends unknown[] = never[], K = unknown, V = unknown> extends CacheTargetOptions<
  A,
  K
> {
  /** TTL of the written entry: a duration or a function of the result. @default the namespace's TTL */
  ttl?: Duration | ((value: V) => Duration);
  /** Tags of the written entry, from the arguments. */
  tags?: readonly string[] | ArgsFn<A, readonly string[]>;
}

/**
 * Options of `@CacheInvalidate`: one of `key`, `keys`, `tags` or `all` (the whole namespace).
 * @example @CacheInvalidate({ namespace: 'user', key: (id: number) => id })
 */
export interface CacheInvalidateOptions<A extends unknown[] = never[], K = unknown> extends CacheTargetOptions<A, K> {
  /** Several keys at once. */
  keys?: ArgsFn<A, readonly unknown[]>;
  /** Tags to invalidate (across namespaces). */
  tags?: readonly string[] | ArgsFn<A, readonly string[]>;
  /** Clear the whole namespace. @default false */
  all?: boolean;
}

/** Any async method a cache decorator can sit on (a sync method is a compile error, and a boot error in JS). */
export type AsyncMethod = (...args: never[]) => Promise<unknown>;

/**
 * What a decorator that does not fit its method demands of the method's descriptor — a type no method has, so the
 * mismatch is a compile error that names the problem.
 */
export interface DecoratorMismatch<Problem extends string> {
  readonly 'tiercache: this decorator does not fit the method': Problem;
}

/** True when a function of `A` can take the method's arguments `P` (A is a prefix of P; no function: true). */
type ArgsFit<A extends unknown[], P extends unknown[]> = [A] extends [never[]]
  ? true
  : P extends [...A, ...unknown[]]
    ? true
    : false;

/** True when the method's result fits a function of the value `V` (ttl). */
type ResultFit<V, M extends AsyncMethod> = Awaited<ReturnType<M>> extends V ? true : false;

/** True when what invalidateOn returns (E) names keys of the method: the key function's key, or its one argument. */
type EventKeysFit<A extends unknown[], K, E, M extends AsyncMethod> = [E] extends [never]
  ? true
  : [A] extends [never[]]
    ? Parameters<M> extends [infer Only]
      ? [E] extends [Only | readonly Only[] | undefined]
        ? true
        : false
      : true
    : [E] extends [K | readonly K[] | undefined]
      ? true
      : false;

/** `unknown` when @Cached's options fit the method, else the mismatch (see {@link DecoratorMismatch}). */
export type CachedFit<A extends unknown[], K, V, E, M extends AsyncMethod> =
  ArgsFit<A, Parameters<M>> extends false
    ? DecoratorMismatch<'key / tags / condition take other parameters than the method'>
    : ResultFit<V, M> extends false
      ? DecoratorMismatch<"ttl's function takes another type than the method's result">
      : EventKeysFit<A, K, E, M> extends false
        ? DecoratorMismatch<'invalidateOn returns another type than the key (or the one argument) of the method'>
        : unknown;

/** `unknown` when @CachePut's options fit the method, else the mismatch. */
export type CachePutFit<A extends unknown[], V, M extends AsyncMethod> =
  ArgsFit<A, Parameters<M>> extends false
    ? DecoratorMismatch<'key / tags take other parameters than the method'>
    : ResultFit<V, M> extends false
      ? DecoratorMismatch<"ttl's function takes another type than the method's result">
      : unknown;

/** `unknown` when @CacheInvalidate's options fit the method, else the mismatch. */
export type CacheInvalidateFit<A extends unknown[], M extends AsyncMethod> =
  ArgsFit<A, Parameters<M>> extends false
    ? DecoratorMismatch<'key / keys / tags take other parameters than the method'>
    : unknown;
