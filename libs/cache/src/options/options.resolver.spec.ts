import { describe, expect, it } from '@jest/globals';
import { inspect } from 'node:util';
import { CacheError } from '../errors/cache.error.js';
import type { CacheModuleOptions } from './cache-options.interface.js';
import { resolveOptions } from './options.resolver.js';

const PASSWORD = 'hunter2';

function optionError(options: unknown): CacheError {
  try {
    resolveOptions(options as CacheModuleOptions);
  } catch (err) {
    if (err instanceof CacheError) return err;
    throw err;
  }
  throw new Error(`expected ${inspect(options)} to be refused`);
}

describe('resolveOptions: bad options fail at boot, naming the option and the value', () => {
  const cases: [string, unknown, string, string][] = [
    ['unknown top-level key', { reddis: 'redis://127.0.0.1' }, '"reddis"', '"(unknown option)"'],
    ['unknown nested key', { redis: { host: 'h', prot: 1 } }, '"redis.prot"', '"(unknown option)"'],
    ['unknown memory key', { memory: { maxEntry: 5 } }, '"memory.maxEntry"', '"(unknown option)"'],
    ['unknown namespace key', { namespaces: { user: { tll: '5m' } } }, '"namespaces.user.tll"', '"(unknown option)"'],
    ['prefix with the separator', { prefix: 'bot:v2' }, '"prefix"', '"bot:v2"'],
    ['prefix with a glob star', { prefix: 'bot*' }, '"prefix"', '"bot*"'],
    ['empty prefix', { prefix: '' }, '"prefix"', '""'],
    ['negative TTL string', { defaultTtl: '-5m' }, '"defaultTtl"', '"-5m"'],
    ['negative TTL number', { defaultTtl: -1 }, '"defaultTtl"', '-1'],
    ['garbage TTL string', { defaultTtl: 'soonish' }, '"defaultTtl"', '"soonish"'],
    ['TTL with an unknown unit', { defaultTtl: '5 weeks' }, '"defaultTtl"', '"5 weeks"'],
    ['NaN TTL', { defaultTtl: NaN }, '"defaultTtl"', 'NaN'],
    ['zero TTL', { defaultTtl: 0 }, '"defaultTtl"', '0'],
    ['jitter above 1', { jitter: 2 }, '"jitter"', '2'],
    ['negative jitter', { jitter: -0.1 }, '"jitter"', '-0.1'],
    ['maxValueBytes 0', { maxValueBytes: 0 }, '"maxValueBytes"', '0'],
    ['fractional maxValueBytes', { maxValueBytes: 1.5 }, '"maxValueBytes"', '1.5'],
    ['namespace TTL garbage', { namespaces: { x: { ttl: 'soon' } } }, '"namespaces.x.ttl"', '"soon"'],
    ['namespace jitter', { namespaces: { x: { jitter: 3 } } }, '"namespaces.x.jitter"', '3'],
    ['namespace name with a colon', { namespaces: { 'a:b': { ttl: '1m' } } }, '"namespaces.a:b"', '"a:b"'],
    ['redis.port out of range', { redis: { port: 70000 } }, '"redis.port"', '70000'],
    ['redis.port not a number', { redis: { port: '6379' } }, '"redis.port"', '"6379"'],
    ['redis.db negative', { redis: { db: -1 } }, '"redis.db"', '-1'],
    ['sentinels without a name', { redis: { sentinels: [{ host: 'h', port: 26379 }] } }, '"redis.name"', 'undefined'],
    [
      'sentinel node without a port',
      { redis: { sentinels: [{ host: 'h' }], name: 'm' } },
      '"redis.sentinels[0]"',
      'an object',
    ],
    ['cluster with no nodes', { redis: { cluster: { nodes: [] } } }, '"redis.cluster.nodes"', 'an array'],
    ['cluster without nodes', { redis: { cluster: {} } }, '"redis.cluster.nodes"', 'undefined'],
    [
      'cluster and sentinels together',
      { redis: { cluster: { nodes: [{ host: 'h', port: 1 }] }, sentinels: [] } },
      '"redis.sentinels"',
      'an array',
    ],
    ['commandTimeout garbage', { commandTimeout: 'fast' }, '"commandTimeout"', '"fast"'],
    ['commandTimeout zero', { commandTimeout: 0 }, '"commandTimeout"', '0'],
    ['memory.maxEntries zero', { memory: { maxEntries: 0 } }, '"memory.maxEntries"', '0'],
    ['memory.maxTtl garbage', { memory: { maxTtl: 'later' } }, '"memory.maxTtl"', '"later"'],
    ['enabled as a string', { enabled: 'yes' }, '"enabled"', '"yes"'],
    ['logThrottle garbage', { logThrottle: '1 minute' }, '"logThrottle"', '"1 minute"'],
    ['redis as a number', { redis: 6379 }, '"redis"', '6379'],
    ['non-redis URL scheme', { redis: 'http://127.0.0.1:6379' }, '"redis"', '"http://…"'],
  ];

  it.each(cases)('%s', (_name, options, path, value) => {
    const err = optionError(options);
    expect(err.code).toBe('E_INVALID_OPTION');
    expect(err.message).toContain(`${path} = ${value}`);
  });

  it('refuses a bad URL without echoing it', () => {
    const err = optionError({ redis: 'not a url' });
    expect(err.code).toBe('E_INVALID_OPTION');
    expect(err.message).toContain('"redis"');
    expect(err.message).not.toContain('not a url');
  });

  describe(`never reveals the password of a URL like redis://u:${PASSWORD}@host`, () => {
    const leaks: [string, unknown, string][] = [
      ['unparseable URL (port out of range)', { redis: `redis://u:${PASSWORD}@host:99999` }, '"redis"'],
      ['unparseable URL in redis.url', { redis: { url: `redis://u:${PASSWORD}@host:99999` } }, '"redis.url"'],
      ['wrong scheme', { redis: `https://u:${PASSWORD}@host:6379` }, '"redis"'],
      ['bad database in the path', { redis: `redis://u:${PASSWORD}@host:6379/zero` }, '"redis (database)"'],
      [
        'bad option next to the URL',
        { redis: { url: `redis://u:${PASSWORD}@host:6379`, port: 70000 } },
        '"redis.port"',
      ],
      ['password of the wrong type', { redis: { password: { secret: PASSWORD } } }, '"redis.password"'],
      [
        'sentinelPassword of the wrong type',
        { redis: { sentinels: [{ host: 'h', port: 1 }], name: 'm', sentinelPassword: 42 } },
        '"redis.sentinelPassword"',
      ],
    ];

    it.each(leaks)('%s: the message names the option, not the password', (_name, options, path) => {
      const err = optionError(options);
      expect(err.code).toBe('E_INVALID_OPTION');
      expect(err.message).toContain(path);
      expect(err.message).not.toContain(PASSWORD);
      expect(err.message).not.toContain('42');
    });

    // What a crash at boot prints (Nest's logger and Node both inspect the error, cause included).
    // Bug (options.resolver.ts:85): the URL parser's TypeError is attached as `cause`, and Node's ERR_INVALID_URL
    // carries the whole URL in its `input` property — password included.
    it.each(leaks.slice(0, 2))('%s: the inspected error (cause included) has no password', (_name, options) => {
      expect(inspect(optionError(options), { depth: 5 })).not.toContain(PASSWORD);
    });

    it.each(leaks.slice(2))('%s: the inspected error (cause included) has no password', (_name, options) => {
      expect(inspect(optionError(options), { depth: 5 })).not.toContain(PASSWORD);
    });

    // Bug (options.resolver.ts:22, checkKeys): an unknown key's value is echoed, so a misspelt secret key
    // (`pasword`, `pass`, `requirepass`) puts the secret in the boot error.
    it('a misspelt password key: the message names the key, not its value', () => {
      const err = optionError({ redis: { url: 'redis://127.0.0.1:6379', pasword: PASSWORD } });
      expect(err.message).toContain('"redis.pasword"');
      expect(err.message).not.toContain(PASSWORD);
    });
  });
});

describe('resolveOptions: good options resolve once, with every default', () => {
  it('defaults without Redis: memory backend, prefix cache, 1 h TTL, 250 ms command timeout', () => {
    const o = resolveOptions(undefined);
    expect(o).toMatchObject({
      enabled: true,
      prefix: 'cache',
      defaultNamespace: { ttl: 3_600_000, jitter: 0, maxValueBytes: 5 * 1024 * 1024, memory: true },
      redis: undefined,
      memory: { maxEntries: 10_000, maxBytes: 64 * 1024 * 1024, maxTtlMs: undefined },
      commandTimeoutMs: 250,
      cacheNull: true,
      logThrottleMs: 30_000,
    });
    expect(o.namespaces.size).toBe(0);
    expect(resolveOptions({})).toEqual(o);
  });

  it('with Redis and no memory option there is no memory tier; memory: {} turns it on with defaults', () => {
    expect(resolveOptions({ redis: 'redis://127.0.0.1:6379' }).memory).toBeUndefined();
    expect(resolveOptions({ redis: 'redis://127.0.0.1:6379', memory: false }).memory).toBeUndefined();
    expect(resolveOptions({ redis: 'redis://127.0.0.1:6379', memory: {} }).memory).toEqual({
      maxEntries: 10_000,
      maxBytes: 64 * 1024 * 1024,
      maxTtlMs: undefined,
    });
    expect(resolveOptions({ memory: false }).memory).toEqual({
      maxEntries: 10_000,
      maxBytes: 64 * 1024 * 1024,
      maxTtlMs: undefined,
    });
  });

  it('parses durations in one place: numbers are milliseconds, strings carry a unit', () => {
    const o = resolveOptions({
      defaultTtl: '5m',
      commandTimeout: '150ms',
      logThrottle: '1.5s',
      memory: { maxTtl: '2h' },
      namespaces: { user: { ttl: 90_000 }, daily: { ttl: '1d', jitter: 0.1 }, plain: {} },
    });
    expect(o.defaultNamespace.ttl).toBe(300_000);
    expect(o.commandTimeoutMs).toBe(150);
    expect(o.logThrottleMs).toBe(1_500);
    expect(o.memory?.maxTtlMs).toBe(7_200_000);
    expect(o.namespaces.get('user')).toMatchObject({
      ttl: 90_000,
      jitter: 0,
      maxValueBytes: 5 * 1024 * 1024,
      memory: true,
    });
    expect(o.namespaces.get('daily')).toMatchObject({ ttl: 86_400_000, jitter: 0.1 });
    expect(o.namespaces.get('plain')).toEqual(o.defaultNamespace);
  });

  it('a TTL function is kept as a function of the value, parsed when called', () => {
    const o = resolveOptions({ namespaces: { stats: { ttl: (v: unknown) => (v === 'long' ? '1h' : 1000) } } });
    const ttl = o.namespaces.get('stats')?.ttl;
    expect(typeof ttl).toBe('function');
    if (typeof ttl !== 'function') return;
    expect(ttl('long')).toBe(3_600_000);
    expect(ttl('short')).toBe(1000);
    expect(() => ttl({})).not.toThrow();
  });

  it('parses a URL: host, port, db, user, password (decoded), TLS for rediss://', () => {
    expect(resolveOptions({ redis: 'rediss://alice:p%40ss%3Aword@cache.internal:6380/3' }).redis).toEqual({
      mode: 'standalone',
      host: 'cache.internal',
      port: 6380,
      db: 3,
      username: 'alice',
      password: 'p@ss:word',
      tls: {},
      connectTimeoutMs: 2_000,
    });
    expect(resolveOptions({ redis: 'redis://:secret@10.0.0.1' }).redis).toEqual({
      mode: 'standalone',
      host: '10.0.0.1',
      port: 6379,
      db: 0,
      password: 'secret',
      connectTimeoutMs: 2_000,
    });
  });

  it('options next to a URL override it', () => {
    expect(
      resolveOptions({ redis: { url: 'redis://h:1/2', port: 7000, db: 5, connectTimeout: '500ms' } }).redis,
    ).toEqual({
      mode: 'standalone',
      host: 'h',
      port: 7000,
      db: 5,
      connectTimeoutMs: 500,
    });
  });

  it('resolves Sentinel and Cluster connections', () => {
    expect(
      resolveOptions({ redis: { sentinels: [{ host: 's1', port: 26379 }], name: 'mymaster', sentinelPassword: 'sp' } })
        .redis,
    ).toEqual({
      mode: 'sentinel',
      sentinels: [{ host: 's1', port: 26379 }],
      name: 'mymaster',
      sentinelPassword: 'sp',
      db: 0,
      connectTimeoutMs: 2_000,
    });
    expect(
      resolveOptions({
        redis: {
          cluster: {
            nodes: [
              { host: 'c1', port: 7000 },
              { host: 'c2', port: 7001 },
            ],
          },
        },
      }).redis,
    ).toEqual({
      mode: 'cluster',
      nodes: [
        { host: 'c1', port: 7000 },
        { host: 'c2', port: 7001 },
      ],
      connectTimeoutMs: 2_000,
    });
  });

  it('accepts the edge values of each range', () => {
    const o = resolveOptions({
      prefix: 'a.b-c_D9',
      jitter: 1,
      maxValueBytes: 1,
      commandTimeout: 1,
      redis: { port: 65535 },
      enabled: false,
      cacheNull: false,
    });
    expect(o).toMatchObject({ prefix: 'a.b-c_D9', enabled: false, cacheNull: false, commandTimeoutMs: 1 });
    expect(o.defaultNamespace).toMatchObject({ jitter: 1, maxValueBytes: 1 });
    expect(o.redis).toMatchObject({ port: 65535 });
    expect(resolveOptions({ redis: '' }).redis).toBeUndefined();
  });
});
