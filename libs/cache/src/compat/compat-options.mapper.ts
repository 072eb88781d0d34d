import { CacheError } from '../errors/cache.error.js';
import { ErrorMessages } from '../errors/error-messages.js';
import { checkNamespace } from '../keys/key-space.js';
import type { CacheModuleOptions as TierCacheModuleOptions } from '../options/cache-options.interface.js';
import { describe } from '../options/duration.js';
import type { CacheModuleOptions } from './compat-options.interface.js';
import { eagerFraction } from './call-arguments.js';
import { storesOf } from './keyv-store.js';
import type { CompatCacheSettings } from './tier-cache-manager.js';

/** TTL without `ttl` (and without `tiercache.defaultTtl`): @nestjs/cache-manager's default options and e2e suite. */
export const COMPAT_DEFAULT_TTL_MS = 5_000;

const HONOURED = new Set([
  'ttl',
  'max',
  'namespace',
  'refreshThreshold',
  'nonBlocking',
  'refreshAllStores',
  'cacheId',
  'stores',
  'isGlobal',
  'tiercache',
]);
/** Options of older cache-manager stores (v4/v5 `store: redisStore, host, port, ...`): all name the Redis connection. */
const CONNECTION = new Set(['store', 'url', 'host', 'port', 'password', 'username', 'db', 'socket', 'database']);
const REDIS_FIX =
  "pass the connection as tiercache: { redis: 'redis://host:6379' } (or { host, port, password, db, tls })";

/**
 * Maps @nestjs/cache-manager's options onto tiercache's; an option tiercache cannot honour stops the boot with a
 * CacheError naming the tiercache option to use (never silently ignored).
 * @example toTierOptions({ ttl: 5_000, max: 100 }) // { defaultTtl: 5000, memory: { maxEntries: 100 } }
 */
export function toTierOptions(options: CacheModuleOptions | undefined): TierCacheModuleOptions {
  const o = checkShape(options);
  const base: TierCacheModuleOptions = { ...(o.tiercache ?? {}) };
  // Keyv stores serve CACHE_MANAGER through an adapter (KeyvCacheManager); anything else stops the boot here.
  storesOf(o.stores);
  if (o.ttl !== undefined) {
    if (base.defaultTtl !== undefined) throw conflict('ttl', 'defaultTtl');
    base.defaultTtl = positiveMs('ttl', o.ttl);
  } else if (base.defaultTtl === undefined) {
    base.defaultTtl = COMPAT_DEFAULT_TTL_MS;
  }
  if (o.max !== undefined) {
    if (typeof o.max !== 'number' || !Number.isInteger(o.max) || o.max < 1)
      throw unsupported(
        'max',
        `= ${describe(o.max)} is not a positive integer`,
        'pass the number of entries, e.g. max: 1000',
      );
    if (base.memory === false || base.memory?.maxEntries !== undefined) throw conflict('max', 'memory');
    base.memory = { ...(base.memory ?? {}), maxEntries: o.max };
  }
  if (o.refreshThreshold !== undefined) {
    if (base.eagerRefresh !== undefined) throw conflict('refreshThreshold', 'eagerRefresh');
    base.eagerRefresh = eagerFraction(o.refreshThreshold, o.ttl, 'CacheModule.register');
  }
  return base;
}

/** What `CACHE_MANAGER` needs from the options (validated by {@link toTierOptions} first). */
export function compatSettings(options: CacheModuleOptions | undefined): CompatCacheSettings {
  const o = checkShape(options);
  return {
    namespace: checkNamespace(o.namespace ?? 'keyv'),
    ttlMs: o.ttl,
    refreshThresholdMs: o.refreshThreshold,
    nonBlocking: o.nonBlocking === true,
    refreshAllStores: o.refreshAllStores === true,
    cacheId: o.cacheId,
  };
}

function checkShape(options: CacheModuleOptions | undefined): CacheModuleOptions {
  const o = options ?? {};
  if (typeof o !== 'object' || o === null || Array.isArray(o))
    throw unsupported(
      '(options)',
      `= ${describe(o)} is not an options object`,
      'pass { ttl, max, tiercache: { ... } }',
    );
  for (const name of Object.keys(o)) {
    if (HONOURED.has(name)) continue;
    if (CONNECTION.has(name)) throw unsupported(name, 'configures a cache-manager store', REDIS_FIX);
    throw unsupported(
      name,
      'is not supported by nestjs-tiercache/compat',
      `use the tiercache option under tiercache: { ... } (supported here: ${[...HONOURED].join(', ')})`,
    );
  }
  for (const flag of ['nonBlocking', 'refreshAllStores', 'isGlobal'] as const)
    if (o[flag] !== undefined && typeof o[flag] !== 'boolean')
      throw unsupported(flag, `= ${describe(o[flag])} is not a boolean`, `pass ${flag}: true or false`);
  if (o.cacheId !== undefined && typeof o.cacheId !== 'string')
    throw unsupported('cacheId', `= ${describe(o.cacheId)} is not a string`, "pass cacheId: 'my-cache'");
  if (o.tiercache !== undefined && (typeof o.tiercache !== 'object' || o.tiercache === null))
    throw unsupported(
      'tiercache',
      `= ${describe(o.tiercache)} is not an options object`,
      'pass tiercache: { redis, prefix, ... }',
    );
  return o;
}

function positiveMs(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw unsupported(
      name,
      `= ${describe(value)} is not a TTL in milliseconds above zero (tiercache always expires entries)`,
      `pass ${name} in milliseconds, e.g. 60_000, or a long TTL such as tiercache: { defaultTtl: '30d' }`,
    );
  return value;
}

function unsupported(option: string, why: string, fix: string): CacheError {
  return new CacheError('E_INVALID_OPTION', ErrorMessages.compatUnsupported(option, why, fix));
}

function conflict(option: string, tiercacheOption: string): CacheError {
  return new CacheError('E_INVALID_OPTION', ErrorMessages.compatConflict(option, tiercacheOption));
}
