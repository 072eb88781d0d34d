import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { CACHE_ENGINE, DEFAULT_CACHE_NAME } from '../cache.constants.js';
import { registeredCaches } from './registered-caches.js';
import { CacheService } from '../cache.service.js';
import type { CachedOptions } from '../decorators/cache-decorator.options.js';
import { CacheError } from '../errors/cache.error.js';
import { ErrorMessages, LogMessages } from '../errors/error-messages.js';
import type { CacheEngine } from '../engine/cache-engine.js';
import { isResolverHandler } from '../http/resolver-metadata.js';
import { NAME_PATTERN } from '../keys/key-space.js';
import { ThrottledLogger } from '../resilience/throttled-logger.js';
import { parseDuration } from '../options/duration.js';
import type { WarmUpOptions } from '../decorators/warm-up.decorator.js';
import type { WarmEntries, WarmReport } from '../warming/warm.types.js';
import { CacheMetadataAccessor } from './cache-metadata.accessor.js';
import type { CacheMethodMetadata } from './cache-metadata.accessor.js';
import { WRAPPED, wrapMethod } from './method-wrapper.js';

type Method = ((...args: unknown[]) => unknown) & { [WRAPPED]?: true };

/**
 * At bootstrap, finds every provider method carrying a cache decorator, checks it can work (failing boot with
 * `Class#method` and the fix otherwise), replaces it on the instance with a caching wrapper that keeps its name and
 * metadata, and subscribes `invalidateOn` events.
 */
@Injectable()
export class CacheExplorer implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger('CacheExplorer');
  private readonly throttled: ThrottledLogger;
  /** Namespaces used with default (argument-encoded) keys, to refuse two methods colliding in one namespace. */
  private readonly defaultKeyed = new Map<string, string>();
  /** `@WarmUp` methods found at init, run after bootstrap. */
  private readonly warmers: { name: string; timeoutMs: number; run: () => Promise<WarmReport> }[] = [];

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly accessor: CacheMetadataAccessor,
    private readonly cache: CacheService,
    @Inject(CACHE_ENGINE) private readonly engine: CacheEngine,
    @Optional() private readonly events?: EventEmitter2,
  ) {
    this.throttled = new ThrottledLogger(this.logger, engine.options.logThrottleMs);
  }

  onModuleInit(): void {
    try {
      for (const wrapper of this.discovery.getControllers()) this.refuseController(wrapper);
      this.checkCaches();
      for (const wrapper of this.discovery.getProviders()) this.explore(wrapper);
    } catch (err) {
      // The boot stops here: do not leave open Redis connections keeping the process alive.
      void this.engine.close();
      throw err;
    }
    this.engine.initialized = true;
  }

  /**
   * Runs the warmers; boot waits for them at most their `timeout` (default 5 s), then goes on while they finish
   * in the background. A failing warmer is logged, never fatal.
   */
  async onApplicationBootstrap(): Promise<void> {
    if (this.warmers.length === 0 || !this.engine.options.enabled) return;
    const runs = this.warmers.map(({ name, run }) =>
      run().catch((err: unknown) => this.throttled.warn(`warm:${name}`, LogMessages.warmerFailedAtBoot(name, err))),
    );
    const bound = Math.max(...this.warmers.map((w) => w.timeoutMs));
    await Promise.race([Promise.allSettled(runs), sleep(bound, undefined, { ref: false })]);
  }

  private collectWarmer(where: string, instance: Record<string, unknown>, name: string, options: WarmUpOptions): void {
    if (!NAME_PATTERN.test(options.namespace ?? '') || options.namespace.startsWith('__'))
      throw new CacheError('E_MISUSE', `${where}: ${ErrorMessages.unknownNamespace(String(options.namespace))}`);
    const timeoutMs =
      options.timeout === undefined ? 5_000 : parseDuration(options.timeout, `${where} @WarmUp timeout`);
    const ttl = options.ttl === undefined ? undefined : parseDuration(options.ttl, `${where} @WarmUp ttl`);
    const method = instance[name] as (...args: unknown[]) => Promise<WarmEntries> | WarmEntries;
    const run = (): Promise<WarmReport> =>
      this.cache.warm(options.namespace, () => method.call(instance), {
        ...(ttl !== undefined ? { ttl } : {}),
        ...(options.once ? { once: where } : {}),
      });
    this.warmers.push({ name: where, timeoutMs, run });
    this.engine.warmer.register(where, run);
  }

  /**
   * Every CacheModule.forRoot in the app sees every provider; each explorer wraps only the methods whose decorators
   * name its cache (`{ cache }`, default `'default'`). A decorator naming a cache no forRoot registers, decorators of
   * one method naming different caches, or a name registered twice (two unnamed forRoot included) would cache
   * somewhere other than intended: each is a boot error naming the method.
   */
  private checkCaches(): void {
    const byName = new Map<string, Set<CacheEngine>>();
    for (const engine of registeredCaches(this.discovery)) {
      const name = engine.options.name;
      byName.set(name, (byName.get(name) ?? new Set()).add(engine));
    }
    for (const [name, engines] of byName) {
      if (engines.size > 1 && name !== DEFAULT_CACHE_NAME)
        throw misuse(
          `CacheModule.forRoot({ name: '${name}' })`,
          `the app registers the cache "${name}" ${engines.size} times`,
          'register each named cache once (isGlobal: true, or export it from one module) and give every other one its own name',
        );
    }
    const known = [...byName.keys()].sort();
    for (const wrapper of this.discovery.getProviders()) {
      const proto = (wrapper.metatype as { prototype?: object } | undefined)?.prototype;
      if (!proto || wrapper.isAlias) continue;
      for (const method of this.methodsOf(proto)) {
        const fn = (proto as Record<string, unknown>)[method];
        const meta = this.accessor.get(fn);
        const warm = this.accessor.warmUp(fn);
        if (!meta && !warm) continue;
        const where = `${wrapper.name}#${method}`;
        const name = this.targetOf(where, meta, warm);
        const engines = byName.get(name);
        if (!engines)
          throw misuse(
            where,
            ErrorMessages.unknownCache(name, known),
            `register it with CacheModule.forRoot({ name: '${name}', ... }) or name one of the registered caches in { cache }`,
          );
        if (engines.size > 1)
          throw misuse(
            where,
            `the app imports CacheModule.forRoot ${engines.size} times without a name, so it is not defined which cache this decorated method would use`,
            "name the caches (CacheModule.forRoot({ name: 'catalogue', ... }) and @Cached({ cache: 'catalogue' })), or import CacheModule.forRoot once, in the root module, with isGlobal: true, and separate data by namespace",
          );
      }
    }
  }

  /** The cache every decorator of one method names (one, or a boot error). */
  private targetOf(where: string, meta: CacheMethodMetadata | undefined, warm: WarmUpOptions | undefined): string {
    const decorators = [meta?.cached, meta?.put, ...(meta?.invalidate ?? []), warm].filter((o) => o !== undefined);
    const names = new Set<string>();
    for (const options of decorators) {
      const cache: unknown = (options as { cache?: unknown }).cache;
      if (cache !== undefined && (typeof cache !== 'string' || cache === ''))
        throw misuse(where, 'option "cache" must be the name of a cache', "write { cache: 'catalogue' }");
      names.add(cache ?? DEFAULT_CACHE_NAME);
    }
    if (names.size > 1)
      throw misuse(
        where,
        `the cache decorators of one method name different caches (${[...names].map((n) => `"${n}"`).join(', ')})`,
        'split the method, or use the CacheService of the other cache (@InjectCache(name)) inside it',
      );
    return [...names][0] ?? DEFAULT_CACHE_NAME;
  }

  private methodsOf(prototype: object): string[] {
    return this.scanner.getAllMethodNames(prototype);
  }

  private refuseController(wrapper: InstanceWrapper): void {
    const proto = (wrapper.metatype as { prototype?: object } | undefined)?.prototype;
    if (!proto) return;
    for (const name of this.methodsOf(proto)) {
      if (this.accessor.get((proto as Record<string, unknown>)[name])) {
        throw misuse(
          `${wrapper.name}#${name}`,
          'cache decorators on controller methods are not supported (Nest binds routes before the cache can wrap them, so they would silently not cache)',
          'move the cached logic into a provider (service) method and decorate that',
        );
      }
    }
  }

  private explore(wrapper: InstanceWrapper): void {
    if (wrapper.isAlias || !wrapper.metatype) return;
    const proto = (wrapper.metatype as { prototype?: object }).prototype;
    if (!proto) return;
    const instance = wrapper.instance as Record<string, unknown> | undefined;
    for (const name of this.methodsOf(proto)) {
      const warm = this.accessor.warmUp((proto as Record<string, unknown>)[name]);
      const meta = this.accessor.get((proto as Record<string, unknown>)[name]);
      const where = `${wrapper.name}#${name}`;
      // Another cache's method: its own explorer wraps it (checkCaches made sure there is exactly one).
      if ((warm || meta) && this.targetOf(where, meta, warm) !== this.engine.options.name) continue;
      if (warm && instance && wrapper.isDependencyTreeStatic()) this.collectWarmer(where, instance, name, warm);
      if (!meta) continue;
      if (isResolverHandler((proto as Record<string, unknown>)[name]))
        throw misuse(where, ErrorMessages.resolverProblem(), ErrorMessages.resolverFix());
      // Transient providers count as static for Nest, but every consumer gets its own instance and only one of them
      // could be wrapped here: the others would silently not cache.
      if (!wrapper.isDependencyTreeStatic() || wrapper.isTransient) {
        throw misuse(
          where,
          'the provider is request- or transient-scoped, so the identity it serves does not come from the method arguments and would leak between requests',
          'put everything the result depends on in the arguments (and the key) of a singleton provider method',
        );
      }
      if (!instance) continue;
      const original = instance[name] as Method;
      if (typeof original !== 'function' || original[WRAPPED]) continue;
      const resolved = this.validate(where, wrapper.name, name, meta, original, proto);
      const returnType: unknown = Reflect.getMetadata('design:returntype', proto, name);
      const wrapped = wrapMethod(original, resolved, {
        engine: this.engine,
        where,
        // Known async without calling it: an `async` function, or TypeScript's metadata says Promise. Otherwise
        // (plain JS, esbuild, swc without metadata) the wrapper checks the first call's result.
        knownAsync: original.constructor?.name === 'AsyncFunction' || returnType === Promise,
        warn: (topic, message) => this.throttled.warn(topic, message),
      }) as Method;
      if (wrapped !== original) this.install(instance, name, original, wrapped);
      if (resolved.cached?.invalidateOn) this.subscribe(where, resolved.cached);
    }
  }

  private validate(
    where: string,
    className: string,
    method: string,
    meta: CacheMethodMetadata,
    original: Method,
    proto: object,
  ) {
    if (meta.cachedCount > 1 || meta.putCount > 1)
      throw misuse(where, 'the same cache decorator appears twice', 'keep one @Cached / @CachePut per method');
    if (meta.cached && meta.put)
      throw misuse(
        where,
        '@Cached and @CachePut on one method contradict each other',
        'use @Cached to read through, or @CachePut to write through',
      );
    const returnType: unknown = Reflect.getMetadata('design:returntype', proto, method);
    if (returnType !== undefined && returnType !== Promise && returnType !== Object) {
      throw misuse(
        where,
        'a cached method must return a Promise (the cache is asynchronous)',
        'make the method async (returning Promise<T>)',
      );
    }
    const defaultNs = `${className}.${method}`.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
    const ns = (given: string | undefined, required: boolean, decorator: string): string => {
      if (given === undefined) {
        if (required)
          throw misuse(
            where,
            `${decorator} needs a namespace`,
            `pass { namespace: '...' } naming the namespace whose entries it changes`,
          );
        return defaultNs;
      }
      if (!NAME_PATTERN.test(given) || given.startsWith('__'))
        throw new CacheError('E_MISUSE', `${where}: ${ErrorMessages.unknownNamespace(given)}`);
      return given;
    };
    for (const fnName of ['key', 'keys', 'condition'] as const) {
      for (const opts of [meta.cached, meta.put, ...meta.invalidate]) {
        const fn = (opts as Record<string, unknown> | undefined)?.[fnName];
        if (fn !== undefined && typeof fn !== 'function')
          throw misuse(
            where,
            `option "${fnName}" must be a function of the method's arguments`,
            `write ${fnName}: (...args) => ...`,
          );
      }
    }
    const cached = meta.cached ? { ...meta.cached, namespace: ns(meta.cached.namespace, false, '@Cached') } : undefined;
    if (cached && !cached.key) {
      const other = this.defaultKeyed.get(cached.namespace);
      if (other && other !== where) {
        throw misuse(
          where,
          `${other} and ${where} both cache into namespace "${cached.namespace}" with keys made from their arguments, so equal arguments would collide`,
          'give one of them a distinct namespace or a `key` function',
        );
      }
      this.defaultKeyed.set(cached.namespace, where);
    }
    if (cached && !cached.key && cached.invalidateOn && original.length !== 1) {
      throw misuse(
        where,
        `invalidateOn names one entry by one key value, but the method declares ${original.length} parameters (not exactly one) and has no \`key\` function, so no event payload can name its entries`,
        'give @Cached a `key` function (e.g. key: (id, lang) => composeKey(id, lang)) and return that same key from invalidateOn',
      );
    }
    if (cached?.invalidateOn && !this.events) {
      throw misuse(
        where,
        'invalidateOn needs @nestjs/event-emitter',
        'import EventEmitterModule.forRoot() in your AppModule',
      );
    }
    return {
      ...(cached ? { cached } : {}),
      ...(meta.put ? { put: { ...meta.put, namespace: ns(meta.put.namespace, true, '@CachePut') } } : {}),
      invalidate: meta.invalidate.map((inv) => {
        if (!inv.all && !inv.key && !inv.keys && !inv.tags)
          throw misuse(
            where,
            '@CacheInvalidate needs one of key, keys, tags or all',
            'e.g. { namespace: "user", key: (id) => id }',
          );
        return {
          ...inv,
          namespace: ns(inv.namespace, !(inv.tags && !inv.key && !inv.keys && !inv.all), '@CacheInvalidate'),
        };
      }),
    };
  }

  private install(instance: Record<string, unknown>, name: string, original: Method, wrapped: Method): void {
    Object.defineProperty(wrapped, 'name', { value: original.name, configurable: true });
    // Keep foreign metadata (e.g. @OnEvent) readable on the wrapper, as on the original.
    for (const key of Reflect.getMetadataKeys(original) as unknown[]) {
      Reflect.defineMetadata(key, Reflect.getMetadata(key, original), wrapped);
    }
    wrapped[WRAPPED] = true;
    Object.defineProperty(instance, name, { value: wrapped, writable: true, configurable: true, enumerable: false });
  }

  private subscribe(where: string, cached: CachedOptions<unknown[]> & { namespace: string }): void {
    const events = this.events;
    if (!events || !cached.invalidateOn) return;
    for (const [event, keyOfPayload] of Object.entries(cached.invalidateOn)) {
      if (typeof keyOfPayload !== 'function')
        throw misuse(
          where,
          `invalidateOn["${event}"] must be a function of the event payload`,
          `'${event}': (e) => e.id`,
        );
      events.on(event, async (payload: unknown) => {
        try {
          const out = (keyOfPayload as (p: unknown) => unknown)(payload);
          if (out === undefined) return;
          // One key grammar: the value names the entry exactly as `key` (or a one-argument default key) does.
          const keys = (Array.isArray(out) ? out : [out]).map((k) => this.engine.space.entry(cached.namespace, k));
          await this.engine.invalidator.keys(cached.namespace, keys);
        } catch (err) {
          // Escalate rather than drop: a handler that cannot name its keys clears the whole namespace.
          this.throttled.warn(
            `event:${where}:${event}`,
            LogMessages.eventKeyFailed(where, event, err, cached.namespace),
          );
          await this.cache.clearNamespace(cached.namespace);
        }
      });
    }
  }
}

function misuse(where: string, problem: string, fix: string): CacheError {
  return new CacheError('E_MISUSE', ErrorMessages.misuse(where, problem, fix));
}
