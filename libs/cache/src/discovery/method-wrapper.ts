import type { CachedOptions, CacheInvalidateOptions, CachePutOptions } from '../decorators/cache-decorator.options.js';
import { fromStored } from '../codec/class-transformer.adapter.js';
import type { CacheEngine } from '../engine/cache-engine.js';
import { CacheError } from '../errors/cache.error.js';
import { LogMessages } from '../errors/error-messages.js';
import { IdKeyMemo } from '../keys/id-key.memo.js';
import { checkTags } from '../keys/key-space.js';
import type { LoadPolicy } from '../options/load-policy.js';

/** Marks a function the explorer produced, so it is never wrapped twice. */
export const WRAPPED = Symbol('tiercache:wrapped');

type Method = (...args: unknown[]) => unknown;

/** A decorator's options with the namespace resolved at boot. */
export type Resolved<O> = O & { namespace: string };

/** What a wrapper needs besides the decorator options. */
export interface WrapContext {
  engine: CacheEngine;
  /** `Class#method`, for log lines. */
  where: string;
  /** Whether the method is known to return a Promise (an `async` function, or `design:returntype` Promise). */
  knownAsync: boolean;
  warn(topic: string, message: string): void;
}

/** The entry key of a call: the decorator's key function (one key grammar), or the default key of the arguments. */
function keyOfCall(engine: CacheEngine, namespace: string, keyFn: Method | undefined, args: unknown[]): string {
  return keyFn ? engine.space.entry(namespace, keyFn(...args)) : engine.space.call(namespace, args);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * Wraps a method for @Cached and/or @CachePut / @CacheInvalidate. The original runs at most once per call; its
 * errors propagate untouched; a key that cannot be built (or a throwing key function) makes the call bypass the
 * cache with a warning. A method not known to be async is checked at its first call: if it returns a plain value
 * it is synchronous, keeps its return type, runs uncached from then on, and a warning names it.
 */
export function wrapMethod(
  original: Method,
  meta: {
    cached?: Resolved<CachedOptions<unknown[]>>;
    put?: Resolved<CachePutOptions<unknown[]>>;
    invalidate: Resolved<CacheInvalidateOptions<unknown[]>>[];
  },
  ctx: WrapContext,
): Method {
  const { engine } = ctx;
  const { cached, put, invalidate } = meta;
  let mode: 'async' | 'sync' | 'unknown' = ctx.knownAsync ? 'async' : 'unknown';
  const becameSync = (): void => {
    mode = 'sync';
    ctx.warn(`sync:${ctx.where}`, LogMessages.syncMethod(ctx.where));
  };
  const bypass = (err: unknown): void => {
    const reason = err instanceof CacheError ? err.message : LogMessages.keyFunctionThrew(err);
    ctx.warn(`bypass:${ctx.where}`, LogMessages.bypass(ctx.where, reason));
  };

  let wrapper: Method = original;
  if (cached) {
    const namespace = cached.namespace;
    const tagsOf = cached.tags;
    // Resolved once at boot: a bad duration in the decorator fails boot, and the hot path parses nothing.
    const { ttl, cacheNull, grace, softTimeout, hardTimeout, eagerRefresh, lease, type } = cached;
    const policy: LoadPolicy = engine.policies.of(namespace, {
      ttl,
      cacheNull,
      grace,
      softTimeout,
      hardTimeout,
      eagerRefresh,
      lease,
    });
    const readThrough = engine.readThrough;
    const space = engine.space;
    const nsPrefix = space.namespace(namespace);
    const counter = engine.telemetry.counter(namespace);
    const keyFn = cached.key as Method | undefined;
    const condition = cached.condition;
    const options = engine.options;
    // The commonest key, one integer id (the argument, or what the key function returns), is built once per id.
    const ids = new IdKeyMemo((id) => space.entryUnder(nsPrefix, id));
    wrapper = function (this: unknown, ...args: unknown[]): unknown {
      if (mode === 'sync' || !options.enabled || (condition && !condition(...args))) return original.apply(this, args);
      let k: string;
      let tags: readonly string[] | undefined;
      try {
        const id = keyFn ? keyFn(...args) : args.length === 1 ? args[0] : undefined;
        k =
          typeof id === 'number'
            ? ids.key(id)
            : keyFn
              ? space.entryUnder(nsPrefix, id)
              : space.callUnder(nsPrefix, args);
        tags = typeof tagsOf === 'function' ? tagsOf(...args) : tagsOf;
      } catch (err) {
        bypass(err);
        return original.apply(this, args);
      }
      // null: the memory tier holds nothing for the key (the read-through then does not look again).
      let local: { value: unknown } | null | undefined;
      if (mode === 'async') {
        // A fresh memory hit answers at once: no loader made, no read started.
        local = readThrough.memoryHit(k, policy, counter);
        if (local != null)
          return type ? Promise.resolve(local.value).then((v) => fromStored(type, v)) : Promise.resolve(local.value);
      }
      let loader = (): unknown => original.apply(this, args);
      if (mode === 'unknown') {
        // The first call tells: a Promise (then it is cached like any other load) or a plain value (kept as is).
        const first = original.apply(this, args);
        if (!isThenable(first)) {
          becameSync();
          return first;
        }
        mode = 'async';
        // Used as this call's load; if the cache answers instead, its outcome is dropped (handled, never unhandled).
        Promise.resolve(first).catch(() => undefined);
        loader = () => first;
      }
      const result = readThrough.getOrLoad(namespace, k, loader, policy, tags, counter, local === null);
      return type ? result.then((v) => fromStored(type, v)) : result;
    };
  }

  if (!put && invalidate.length === 0) return wrapper;
  const inner = wrapper;
  const putPolicy = put
    ? engine.policies.of(put.namespace, put.ttl === undefined ? undefined : { ttl: put.ttl })
    : undefined;
  return function (this: unknown, ...args: unknown[]): unknown {
    if (!engine.options.enabled) return inner.apply(this, args);
    // Keys come from the arguments as they were at the call, before the method can change them.
    const plans: (() => Promise<unknown>)[] = [];
    let putKey: string | undefined;
    let putTags: readonly string[] | undefined;
    let planned = true;
    try {
      for (const inv of invalidate) plans.push(planInvalidation(engine, inv, args));
      if (put) {
        putKey = keyOfCall(engine, put.namespace, put.key as Method | undefined, args);
        putTags = typeof put.tags === 'function' ? put.tags(...args) : put.tags;
      }
    } catch (err) {
      bypass(err);
      planned = false;
    }
    const after = async (result: unknown): Promise<unknown> => {
      if (!planned) {
        // Without a key the change cannot be targeted: clear the namespaces involved rather than risk stale data.
        await Promise.all([
          ...invalidate.map((i) => engine.invalidator.prefixes(i.namespace, [engine.space.namespace(i.namespace)])),
          ...(put ? [engine.invalidator.prefixes(put.namespace, [engine.space.namespace(put.namespace)])] : []),
        ]);
        return result;
      }
      for (const run of plans) await run();
      if (put && putPolicy && putKey !== undefined)
        await engine.writer.put(put.namespace, putKey, result, putPolicy, putTags);
      return result;
    };
    const result = inner.apply(this, args);
    if (isThenable(result)) {
      if (mode === 'unknown') mode = 'async';
      return Promise.resolve(result).then(after);
    }
    // A synchronous method keeps its return type; the cache change completes right after it returns.
    if (mode !== 'sync') becameSync();
    after(result).catch((err: unknown) => ctx.warn(`after:${ctx.where}`, LogMessages.bypass(ctx.where, String(err))));
    return result;
  };
}

function planInvalidation(
  engine: CacheEngine,
  inv: Resolved<CacheInvalidateOptions<unknown[]>>,
  args: unknown[],
): () => Promise<unknown> {
  if (inv.all) return () => engine.invalidator.prefixes(inv.namespace, [engine.space.namespace(inv.namespace)]);
  const tags = typeof inv.tags === 'function' ? inv.tags(...args) : inv.tags;
  const keys: string[] = [];
  if (inv.keys) for (const key of inv.keys(...args)) keys.push(engine.space.entry(inv.namespace, key));
  if (inv.key) keys.push(engine.space.entry(inv.namespace, inv.key(...args)));
  const checkedTags = tags?.length ? checkTags(tags) : undefined;
  return async () => {
    if (keys.length > 0) await engine.invalidator.keys(inv.namespace, keys);
    if (checkedTags) await engine.invalidator.tags(checkedTags);
  };
}
