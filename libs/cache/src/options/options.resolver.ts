import { isInt, isPort, isString, min, max, matches } from 'class-validator';
import { CacheError } from '../errors/cache.error.js';
import { ErrorMessages } from '../errors/error-messages.js';
import type {
  CacheModuleOptions,
  LeaseOptions,
  NamespaceOptions,
  RedisConnectionOptions,
  RedisNode,
  Ttl,
} from './cache-options.interface.js';
import { DEFAULT_CACHE_NAME } from '../cache.constants.js';
import { NAME_PATTERN } from '../keys/key-space.js';
import { describe, parseDuration } from './duration.js';
import type {
  ResolvedCacheOptions,
  ResolvedLease,
  ResolvedNamespace,
  ResolvedRedis,
  ResolvedTtl,
} from './resolved-options.js';

/**
 * Checks a cache name (`forRoot({ name })`): 1-64 of `[A-Za-z0-9_.-]`, not starting with `__`. Throws naming `name`.
 * @example checkCacheName('catalogue') // 'catalogue'
 */
export function checkCacheName(value: unknown): string {
  if (!isString(value) || !NAME_PATTERN.test(value) || value.startsWith('__'))
    fail('name', value, 'a cache name of 1-64 characters [A-Za-z0-9_.-], not starting with "__"');
  return value;
}

/** The default hard loader timeout (see CacheModuleOptions.hardTimeout). */
export const DEFAULT_HARD_TIMEOUT_MS = 30_000;

const TOP_KEYS = [
  'enabled',
  'prefix',
  'defaultTtl',
  'jitter',
  'maxValueBytes',
  'namespaces',
  'redis',
  'memory',
  'commandTimeout',
  'cacheNull',
  'logThrottle',
  'grace',
  'softTimeout',
  'hardTimeout',
  'eagerRefresh',
  'lease',
  'breaker',
  'maxPendingInvalidations',
  'deployId',
  'tracing',
];
const NAMESPACE_KEYS = [
  'ttl',
  'jitter',
  'maxValueBytes',
  'memory',
  'grace',
  'softTimeout',
  'hardTimeout',
  'eagerRefresh',
  'lease',
];
const REDIS_KEYS = [
  'url',
  'host',
  'port',
  'username',
  'password',
  'db',
  'tls',
  'sentinels',
  'name',
  'sentinelUsername',
  'sentinelPassword',
  'cluster',
  'connectTimeout',
  'client',
  'ioredis',
];
const MEMORY_KEYS = ['maxEntries', 'maxBytes', 'maxTtl'];

/** Options whose value is never echoed in an error: credentials, TLS material, URLs (they may carry a password). */
const SECRET_OPTION = /password|username|tls|url|cert|key|ca\b|pfx|passphrase|secret|token/i;

function fail(path: string, value: unknown, expected: string): never {
  const shown = SECRET_OPTION.test(path) ? '(hidden)' : describe(value);
  throw new CacheError('E_INVALID_OPTION', ErrorMessages.invalidOption(path, shown, expected));
}

function checkKeys(obj: object, allowed: string[], path: string): void {
  for (const key of Object.keys(obj)) {
    // The value is not echoed: a misspelt option may well hold a secret (`pasword: '…'`).
    if (!allowed.includes(key))
      fail(path ? `${path}.${key}` : key, '(unknown option)', `one of the known options (${allowed.join(', ')})`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bool(value: unknown, path: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(path, value, 'true or false');
  return value;
}

function positiveInt(value: unknown, path: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!isInt(value) || !min(value, 1)) fail(path, value, 'a positive integer');
  return value as number;
}

function fraction(value: unknown, path: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !min(value, 0) || !max(value, 1)) fail(path, value, 'a number between 0 and 1');
  return value;
}

function ttl(value: Ttl | undefined, path: string, fallback: ResolvedTtl): ResolvedTtl {
  if (value === undefined) return fallback;
  if (typeof value === 'function') return (v: unknown) => parseDuration(value(v), `${path}()`);
  const ms = parseDuration(value, path);
  if (ms === 0) fail(path, value, 'a TTL above zero');
  return ms;
}

function optionalDuration(value: unknown, path: string, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  const ms = parseDuration(value, path);
  if (ms === 0) fail(path, value, 'a duration above zero');
  return ms;
}

function eager(value: unknown, path: string, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0 && value < 1))
    fail(path, value, 'a fraction of the TTL between 0 and 1 (exclusive), e.g. 0.8');
  return value;
}

function lease(value: unknown, path: string, fallback: ResolvedLease | undefined): ResolvedLease | undefined {
  if (value === undefined) return fallback;
  if (value === false) return undefined;
  if (value === true) return { ttlMs: 5_000, waitMs: 5_000 };
  if (!isPlainObject(value)) fail(path, value, 'true, false or { ttl, wait }');
  checkKeys(value, ['ttl', 'wait'], path);
  const opts = value as LeaseOptions;
  const ttlMs = optionalDuration(opts.ttl, `${path}.ttl`, 5_000) ?? 5_000;
  return { ttlMs, waitMs: optionalDuration(opts.wait, `${path}.wait`, ttlMs) ?? ttlMs };
}

function name(value: unknown, path: string): string {
  if (!isString(value) || !matches(value, NAME_PATTERN))
    fail(path, value, `a name matching ${NAME_PATTERN} (no ':' or glob characters)`);
  return value as string;
}

function node(value: unknown, path: string): RedisNode {
  if (
    !isPlainObject(value) ||
    !isString(value.host) ||
    value.host === '' ||
    !isInt(value.port) ||
    !isPort(String(value.port))
  ) {
    fail(path, value, '{ host: string, port: 1-65535 }');
  }
  return { host: value.host as string, port: value.port as number };
}

function nodes(value: unknown, path: string): RedisNode[] {
  if (!Array.isArray(value) || value.length === 0) fail(path, value, 'a non-empty array of { host, port }');
  return value.map((n, i) => node(n, `${path}[${i}]`));
}

function optionalString(value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined;
  if (!isString(value)) fail(path, typeof value === 'object' ? value : '(hidden)', 'a string');
  return value as string;
}

function parseUrl(url: string, path: string): RedisConnectionOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Never echo the URL, nor attach the parser's error as cause: both carry the input, password included.
    throw new CacheError(
      'E_INVALID_OPTION',
      ErrorMessages.invalidOption(path, '(hidden)', 'a URL like redis://[user:password@]host:port/db'),
    );
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    fail(path, `${parsed.protocol}//…`, 'a redis:// or rediss:// URL');
  }
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) fail(`${path} (database)`, parsed.pathname.slice(1), 'a database number');
  return {
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    db,
    ...(parsed.protocol === 'rediss:' ? { tls: true } : {}),
  };
}

function redis(value: unknown): ResolvedRedis | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  let raw: RedisConnectionOptions;
  if (typeof value === 'string') raw = parseUrl(value, 'redis');
  else if (isPlainObject(value)) {
    checkKeys(value, REDIS_KEYS, 'redis');
    const { url, ...rest } = value as RedisConnectionOptions;
    raw = url === undefined ? rest : { ...parseUrl(url, 'redis.url'), ...stripUndefined(rest) };
  } else return fail('redis', value, 'a redis:// URL or connection options');

  const username = optionalString(raw.username, 'redis.username');
  const password = optionalString(raw.password, 'redis.password');
  const auth = { ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) };
  const tls =
    raw.tls === undefined || raw.tls === false
      ? undefined
      : raw.tls === true
        ? {}
        : isPlainObject(raw.tls)
          ? raw.tls
          : fail('redis.tls', raw.tls, 'true, false or Node TLS options');
  const connectTimeoutMs =
    raw.connectTimeout === undefined ? 2_000 : parseDuration(raw.connectTimeout, 'redis.connectTimeout');
  if (raw.client !== undefined) return ownClient(raw, connectTimeoutMs);
  const ioredis =
    raw.ioredis === undefined
      ? undefined
      : isPlainObject(raw.ioredis)
        ? raw.ioredis
        : fail('redis.ioredis', raw.ioredis, 'an object of ioredis options');
  const db =
    raw.db === undefined
      ? 0
      : isInt(raw.db) && min(raw.db, 0)
        ? raw.db
        : fail('redis.db', raw.db, 'a database number ≥ 0');
  const common = { ...auth, ...(tls ? { tls } : {}), connectTimeoutMs, ...(ioredis ? { ioredis } : {}) };

  if (raw.cluster !== undefined) {
    if (!isPlainObject(raw.cluster)) fail('redis.cluster', raw.cluster, '{ nodes: [{ host, port }] }');
    if (raw.sentinels !== undefined)
      fail('redis.sentinels', raw.sentinels, 'nothing when redis.cluster is set (choose one mode)');
    return { mode: 'cluster', nodes: nodes(raw.cluster.nodes, 'redis.cluster.nodes'), ...common };
  }
  if (raw.sentinels !== undefined) {
    const sentinelUsername = optionalString(raw.sentinelUsername, 'redis.sentinelUsername');
    const sentinelPassword = optionalString(raw.sentinelPassword, 'redis.sentinelPassword');
    return {
      mode: 'sentinel',
      sentinels: nodes(raw.sentinels, 'redis.sentinels'),
      name:
        raw.name === undefined
          ? fail('redis.name', raw.name, 'the Sentinel master group name')
          : name(raw.name, 'redis.name'),
      ...(sentinelUsername !== undefined ? { sentinelUsername } : {}),
      ...(sentinelPassword !== undefined ? { sentinelPassword } : {}),
      db,
      ...common,
    };
  }
  const host = raw.host ?? '127.0.0.1';
  if (!isString(host) || host === '') fail('redis.host', host, 'a host name or address');
  const port = raw.port ?? 6379;
  if (!isInt(port) || !isPort(String(port))) fail('redis.port', port, 'a port number 1-65535');
  return { mode: 'standalone', host, port, db, ...common };
}

/** `redis: { client }`: the user's ioredis connection (or a factory), alone. */
function ownClient(raw: RedisConnectionOptions, connectTimeoutMs: number): ResolvedRedis {
  const client = raw.client;
  const usable =
    typeof client === 'function' ||
    (typeof client === 'object' &&
      client !== null &&
      typeof (client as { duplicate?: unknown }).duplicate === 'function' &&
      typeof (client as { sendCommand?: unknown }).sendCommand === 'function');
  if (!usable) fail('redis.client', client, 'an ioredis Redis or Cluster instance, or a function returning one');
  const others = Object.keys(raw).filter(
    (k) => k !== 'client' && k !== 'connectTimeout' && (raw as Record<string, unknown>)[k] !== undefined,
  );
  if (others.length > 0)
    fail(`redis.${others[0] ?? ''}`, undefined, 'nothing beside redis.client (configure the client you pass instead)');
  return { mode: 'client', client: client as NonNullable<RedisConnectionOptions['client']>, connectTimeoutMs };
}

function stripUndefined<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function namespace(raw: unknown, path: string, base: ResolvedNamespace): ResolvedNamespace {
  if (!isPlainObject(raw)) fail(path, raw, 'namespace options { ttl, jitter, maxValueBytes, memory }');
  checkKeys(raw, NAMESPACE_KEYS, path);
  const ns = raw as NamespaceOptions;
  return {
    ttl: ttl(ns.ttl, `${path}.ttl`, base.ttl),
    jitter: fraction(ns.jitter, `${path}.jitter`, base.jitter),
    maxValueBytes: positiveInt(ns.maxValueBytes, `${path}.maxValueBytes`, base.maxValueBytes),
    memory: bool(ns.memory, `${path}.memory`, base.memory),
    graceMs: ns.grace === undefined ? base.graceMs : parseDuration(ns.grace, `${path}.grace`),
    softTimeoutMs: optionalDuration(ns.softTimeout, `${path}.softTimeout`, base.softTimeoutMs),
    hardTimeoutMs:
      ns.hardTimeout === false
        ? undefined
        : optionalDuration(ns.hardTimeout, `${path}.hardTimeout`, base.hardTimeoutMs),
    eagerRefresh: eager(ns.eagerRefresh, `${path}.eagerRefresh`, base.eagerRefresh),
    lease: lease(ns.lease, `${path}.lease`, base.lease),
  };
}

function breaker(value: unknown): ResolvedCacheOptions['breaker'] {
  if (value === undefined) return { threshold: 3, probeIntervalMs: 1_000 };
  if (!isPlainObject(value)) fail('breaker', value, '{ threshold, probeInterval }');
  checkKeys(value, ['threshold', 'probeInterval'], 'breaker');
  return {
    threshold: positiveInt(value.threshold, 'breaker.threshold', 3),
    probeIntervalMs: optionalDuration(value.probeInterval, 'breaker.probeInterval', 1_000) ?? 1_000,
  };
}

/**
 * Validates raw options and fills every default; the only place defaults live. Throws a CacheError naming the option.
 * @example resolveOptions({ prefix: 'bot', defaultTtl: '1h' }).defaultNamespace.ttl // 3600000
 */
export function resolveOptions(
  input: CacheModuleOptions | undefined,
  cacheName: string = DEFAULT_CACHE_NAME,
): ResolvedCacheOptions {
  const raw: unknown = input ?? {};
  if (!isPlainObject(raw)) fail('options', raw, 'an options object');
  // forRoot({ name }) takes the name out before the options get here; a factory's result cannot name its cache.
  if ('name' in raw)
    fail('name', raw.name, 'the name beside the factory: forRootAsync({ name, useFactory }), not inside its result');
  const cache = checkCacheName(cacheName);
  checkKeys(raw, TOP_KEYS, '');
  const opts = raw as CacheModuleOptions;

  const defaultNamespace: ResolvedNamespace = {
    ttl: ttl(opts.defaultTtl, 'defaultTtl', 3_600_000),
    jitter: fraction(opts.jitter, 'jitter', 0),
    maxValueBytes: positiveInt(opts.maxValueBytes, 'maxValueBytes', 5 * 1024 * 1024),
    memory: true,
    graceMs: opts.grace === undefined ? 0 : parseDuration(opts.grace, 'grace'),
    softTimeoutMs: optionalDuration(opts.softTimeout, 'softTimeout', undefined),
    hardTimeoutMs:
      opts.hardTimeout === false
        ? undefined
        : optionalDuration(opts.hardTimeout, 'hardTimeout', DEFAULT_HARD_TIMEOUT_MS),
    eagerRefresh: eager(opts.eagerRefresh, 'eagerRefresh', undefined),
    lease: lease(opts.lease, 'lease', undefined),
  };
  const namespaces = new Map<string, ResolvedNamespace>();
  if (opts.namespaces !== undefined) {
    if (!isPlainObject(opts.namespaces)) fail('namespaces', opts.namespaces, 'an object keyed by namespace name');
    for (const [ns, nsOpts] of Object.entries(opts.namespaces)) {
      namespaces.set(name(ns, `namespaces.${ns}`), namespace(nsOpts, `namespaces.${ns}`, defaultNamespace));
    }
  }

  const resolvedRedis = redis(opts.redis);
  let memory: ResolvedCacheOptions['memory'];
  if (opts.memory !== undefined && opts.memory !== false) {
    if (!isPlainObject(opts.memory))
      fail('memory', opts.memory, 'memory tier options { maxEntries, maxBytes, maxTtl } or false');
    checkKeys(opts.memory, MEMORY_KEYS, 'memory');
  }
  const memOpts = opts.memory === false ? undefined : opts.memory;
  if (memOpts !== undefined || resolvedRedis === undefined) {
    memory = {
      maxEntries: positiveInt(memOpts?.maxEntries, 'memory.maxEntries', 10_000),
      maxBytes: positiveInt(memOpts?.maxBytes, 'memory.maxBytes', 64 * 1024 * 1024),
      maxTtlMs: memOpts?.maxTtl === undefined ? undefined : parseDuration(memOpts.maxTtl, 'memory.maxTtl'),
    };
  }

  const commandTimeoutMs =
    opts.commandTimeout === undefined ? 250 : parseDuration(opts.commandTimeout, 'commandTimeout');
  if (commandTimeoutMs < 1) fail('commandTimeout', opts.commandTimeout, 'at least 1 ms');

  return {
    name: cache,
    enabled: bool(opts.enabled, 'enabled', true),
    // A named cache keeps its keys under its own name unless told otherwise.
    prefix: opts.prefix === undefined ? (cache === DEFAULT_CACHE_NAME ? 'cache' : cache) : name(opts.prefix, 'prefix'),
    defaultNamespace,
    namespaces,
    redis: resolvedRedis,
    memory,
    commandTimeoutMs,
    cacheNull: bool(opts.cacheNull, 'cacheNull', true),
    logThrottleMs: opts.logThrottle === undefined ? 30_000 : parseDuration(opts.logThrottle, 'logThrottle'),
    breaker: breaker(opts.breaker),
    maxPendingInvalidations: positiveInt(opts.maxPendingInvalidations, 'maxPendingInvalidations', 10_000),
    tracing: bool(opts.tracing, 'tracing', false),
    deployId:
      opts.deployId === undefined
        ? 'default'
        : isString(opts.deployId) && /^[\x21-\x7e]{1,128}$/.test(opts.deployId)
          ? opts.deployId
          : fail('deployId', opts.deployId, 'a printable string of 1-128 characters'),
  };
}
