import type { CacheService } from '../cache.service.js';
import type { CachedOptions, CacheInvalidateOptions, CachePutOptions } from '../decorators/cache-decorator.options.js';
import { fromStored } from '../codec/class-transformer.adapter.js';
import { CacheError } from '../errors/cache.error.js';
import { encodeArgs, fullKey, toKey } from '../keys/key.encoder.js';

/** Marks a function the explorer produced, so it is never wrapped twice. */
export const WRAPPED = Symbol('tiercache:wrapped');

type Method = (...args: unknown[]) => unknown;

/** What a wrapper needs besides the decorator options. */
export interface WrapContext {
  cache: CacheService;
  prefix: string;
  /** `Class#method`, for log lines. */
  where: string;
  warn(topic: string, message: string): void;
}

/** Builds the full key of a call: the decorator's key function, or the encoding of all arguments. */
export function keyOf(
  prefix: string,
  namespace: string,
  keyFn: ((...args: unknown[]) => unknown) | undefined,
  args: unknown[],
): string {
  return fullKey(prefix, namespace, keyFn ? toKey(keyFn(...args)) : encodeArgs(args));
}

/**
 * Wraps a method for @Cached and/or @CachePut / @CacheInvalidate. The original runs at most once per call; its
 * errors propagate untouched; a key that cannot be built (or a throwing key function) makes the call bypass the
 * cache with a warning.
 */
export function wrapMethod(
  original: Method,
  meta: {
    cached?: CachedOptions<unknown[]> & { namespace: string };
    put?: CachePutOptions<unknown[]> & { namespace: string };
    invalidate: (CacheInvalidateOptions<unknown[]> & { namespace: string })[];
  },
  ctx: WrapContext,
): Method {
  const { cache, prefix } = ctx;
  const { cached, put, invalidate } = meta;

  const bypass = (namespace: string, err: unknown): void => {
    const reason =
      err instanceof CacheError ? err.message : `key function threw: ${(err as Error)?.message ?? String(err)}`;
    ctx.warn(`bypass:${ctx.where}`, `${ctx.where}: ${reason}`);
  };

  let wrapper: Method;
  if (cached) {
    const namespace = cached.namespace;
    const tagsOf = cached.tags;
    // Resolved once at boot: a bad duration in the decorator fails boot, and the hot path parses nothing.
    const { ttl, cacheNull, grace, softTimeout, hardTimeout, eagerRefresh, lease, type } = cached;
    const policy = cache.policy(namespace, {
      ...(ttl !== undefined ? { ttl } : {}),
      ...(cacheNull !== undefined ? { cacheNull } : {}),
      ...(grace !== undefined ? { grace } : {}),
      ...(softTimeout !== undefined ? { softTimeout } : {}),
      ...(hardTimeout !== undefined ? { hardTimeout } : {}),
      ...(eagerRefresh !== undefined ? { eagerRefresh } : {}),
      ...(lease !== undefined ? { lease } : {}),
    });
    wrapper = function (this: unknown, ...args: unknown[]): unknown {
      if (!cache.enabled || (cached.condition && !cached.condition(...args))) return original.apply(this, args);
      let k: string;
      let tags: readonly string[] | undefined;
      try {
        k = keyOf(prefix, namespace, cached.key, args);
        tags = typeof tagsOf === 'function' ? tagsOf(...args) : tagsOf;
      } catch (err) {
        bypass(namespace, err);
        return original.apply(this, args);
      }
      const result = cache.getOrLoad(namespace, k, () => original.apply(this, args), policy, tags);
      return type ? result.then((v) => fromStored(type, v)) : result;
    };
  } else {
    wrapper = original;
  }

  if (!put && invalidate.length === 0) return wrapper;
  const inner = wrapper;
  return async function (this: unknown, ...args: unknown[]): Promise<unknown> {
    if (!cache.enabled) return inner.apply(this, args);
    // Keys come from the arguments as they were at the call, before the method can change them.
    const plans: (() => Promise<unknown>)[] = [];
    let putKey: string | undefined;
    let putTags: readonly string[] | undefined;
    try {
      for (const inv of invalidate) plans.push(planInvalidation(inv, args, cache, prefix));
      if (put) {
        putKey = keyOf(prefix, put.namespace, put.key, args);
        putTags = typeof put.tags === 'function' ? put.tags(...args) : put.tags;
      }
    } catch (err) {
      bypass(put?.namespace ?? invalidate[0]?.namespace ?? '', err);
      // Without a key the invalidation cannot be targeted: clear the namespaces involved rather than risk stale data.
      const result = await inner.apply(this, args);
      await Promise.all([
        ...invalidate.map((i) => cache.clearNamespace(i.namespace)),
        ...(put ? [cache.clearNamespace(put.namespace)] : []),
      ]);
      return result;
    }
    const result = await inner.apply(this, args);
    for (const run of plans) await run();
    if (put && putKey !== undefined) {
      await cache.put(put.namespace, putKey, result, {
        ...(put.ttl !== undefined ? { ttl: put.ttl } : {}),
        ...(putTags ? { tags: putTags } : {}),
      });
    }
    return result;
  };
}

function planInvalidation(
  inv: CacheInvalidateOptions<unknown[]> & { namespace: string },
  args: unknown[],
  cache: CacheService,
  prefix: string,
): () => Promise<unknown> {
  if (inv.all) return () => cache.clearNamespace(inv.namespace);
  const tags = typeof inv.tags === 'function' ? inv.tags(...args) : inv.tags;
  const keys: string[] = [];
  if (inv.keys) for (const key of inv.keys(...args)) keys.push(fullKey(prefix, inv.namespace, toKey(key)));
  if (inv.key || (!inv.keys && !tags)) keys.push(keyOf(prefix, inv.namespace, inv.key, args));
  return async () => {
    if (keys.length > 0) await cache.deleteKeys(inv.namespace, keys);
    if (tags?.length) await cache.invalidateTags(tags);
  };
}
