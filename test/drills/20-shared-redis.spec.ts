/**
 * Drill 20 — Shared Redis: another app's keys and another environment's instance (prefix `d20-staging`) on the same
 * server; our instances run as an ACL user without KEYS, FLUSHDB, FLUSHALL and CONFIG.
 * Bar: a representative workload works; foreign keys are untouched (SCAN + DUMP snapshot before/after); no foreign
 * invalidations (the staging instance keeps serving its own values from its memory tier); no KEYS/FLUSHDB/FLUSHALL/
 * CONFIG call by anyone (INFO commandstats) and no command refused to our user (ACL LOG).
 * Metric label sets stay bounded after 100,000 distinct keys: covered by test/observability/metrics.spec.ts
 * ("keeps the number of series unchanged after 100,000 distinct keys and caps namespaces").
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { Cached, CacheInvalidate, CachePut, CacheService, composeKey } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { adminClient, bootApp, DrillReporter, parseInfo, watchEscapes } from './support/faults.js';

type User = { id: number; name: string };

/** One database per environment; our two instances share one. */
const databases = new Map<string, Map<number, User>>();

@Injectable()
class Users {
  loads = 0;
  db: Map<number, User> = new Map();

  @Cached({ namespace: 'user', key: (id: number) => id, tags: (id: number) => [`user:${id}`] })
  async get(id: number): Promise<User | null> {
    this.loads++;
    const row = this.db.get(id);
    return row ? { ...row } : null;
  }

  @CachePut({ namespace: 'user', key: (id: number) => id, tags: (id: number) => [`user:${id}`] })
  async save(id: number, name: string): Promise<User> {
    this.db.set(id, { id, name });
    return { id, name };
  }

  @CacheInvalidate({ namespace: 'user', key: (id: number) => id })
  async rename(id: number, name: string): Promise<void> {
    this.db.set(id, { id, name });
  }

  @Cached({ namespace: 'search', tags: (term: string) => [`term:${term}`] })
  async search(term: string): Promise<string[]> {
    this.loads++;
    return [...this.db.values()].filter((u) => u.name.includes(term)).map((u) => u.name);
  }
}

const reporter = new DrillReporter('20-shared-redis');
const escapes = watchEscapes();
afterAll(() => escapes.stop());

const USER = 'tc';
const PASSWORD = 'tc-shared-pw';
const FORBIDDEN = ['keys', 'flushdb', 'flushall', 'config'];

interface Instance {
  app: INestApplication;
  users: Users;
  cache: CacheService;
}

/** Every key outside `d20:` with its type, DUMP bytes and whether it has a TTL. */
async function foreignSnapshot(admin: Redis): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      if (key.startsWith('d20:')) continue;
      const [type, dump, pttl] = await Promise.all([admin.type(key), admin.dumpBuffer(key), admin.pttl(key)]);
      out.set(key, `${type}|${dump?.toString('hex') ?? 'nil'}|${pttl > 0 ? 'ttl' : String(pttl)}`);
    }
  } while (cursor !== '0');
  return out;
}

describe('drill 20: shared Redis, ACL user without KEYS/FLUSHDB/FLUSHALL/CONFIG', () => {
  let server: RedisServer;
  let admin: Redis;
  let a: Instance;
  let b: Instance;
  let staging: Instance;

  async function instance(prefix: string): Promise<Instance> {
    const options: CacheModuleOptions = {
      prefix,
      redis: `redis://${USER}:${PASSWORD}@127.0.0.1:${server.port}`,
      memory: { maxEntries: 1000 },
    };
    const app = await bootApp(options, { providers: [Users] });
    const users = app.get(Users);
    users.db = databases.get(prefix) ?? new Map();
    databases.set(prefix, users.db);
    return { app, users, cache: app.get(CacheService) };
  }

  beforeAll(async () => {
    server = await RedisServer.start();
    await server.command(
      'ACL',
      'SETUSER',
      USER,
      'on',
      `>${PASSWORD}`,
      '~*',
      '&*',
      '+@all',
      '-keys',
      '-flushdb',
      '-flushall',
      '-config',
    );
    admin = await adminClient(server.port);
    // Another app's data, including names that look like ours.
    await admin.set('other-app:user:1', 'alice');
    await admin.hset('other-app:session:9', { user: '1', csrf: 'x' });
    await admin.rpush('other-app:queue', 'job-1', 'job-2');
    await admin.sadd('other-app:online', '1', '2');
    await admin.zadd('other-app:rank', 1, 'a', 2, 'b');
    await admin.set('other-app:ttl', 'v', 'PX', 3_600_000);
    for (const key of [
      'd20',
      'd20x:user:1',
      'D20:user:1',
      'd20-stagingx:user:1',
      '{d20}:user:1',
      'd20*:user:1',
      'd20?user:1',
      'd20\\:user:1',
    ])
      await admin.set(key, `foreign ${key}`);
    a = await instance('d20');
    b = await instance('d20');
    staging = await instance('d20-staging');
  });
  afterAll(async () => {
    await Promise.all([a, b, staging].map((i) => i?.app.close()));
    admin?.disconnect();
    await server?.stop();
  });

  it('the workload works, foreign keys are untouched, the staging instance sees no invalidation, no forbidden command ran', async () => {
    // The staging environment caches the same ids and keeps them in its memory tier.
    for (let id = 1; id <= 10; id++) staging.users.db.set(id, { id, name: `staging-${id}` });
    for (let id = 1; id <= 10; id++) {
      await waitFor(
        async () => {
          const before = staging.cache.stats().namespaces['user']?.memoryHits ?? 0;
          await staging.users.get(id);
          return (staging.cache.stats().namespaces['user']?.memoryHits ?? 0) > before;
        },
        { timeoutMs: 2_000, message: `staging id ${id} in its memory tier` },
      );
    }
    await staging.users.search('staging');
    const stagingLoads = staging.users.loads;
    const before = await foreignSnapshot(admin);
    await admin.acl('LOG', 'RESET');

    // --- our workload, on two instances (A and B share a database and the bus) ---
    for (let id = 1; id <= 10; id++) a.users.db.set(id, { id, name: `prod-${id}` });
    for (let id = 1; id <= 10; id++) expect(await a.users.get(id)).toEqual({ id, name: `prod-${id}` });
    // Bus with memory tier: A holds id 1 in memory; an invalidation on B reaches it.
    await waitFor(
      async () => {
        const hits = a.cache.stats().namespaces['user']?.memoryHits ?? 0;
        await a.users.get(1);
        return (a.cache.stats().namespaces['user']?.memoryHits ?? 0) > hits;
      },
      { timeoutMs: 2_000, message: 'id 1 in A memory tier' },
    );
    await b.users.rename(1, 'prod-1b');
    await waitFor(async () => (await a.users.get(1))?.name === 'prod-1b', {
      timeoutMs: 1_000,
      message: 'A to see B invalidation',
    });
    expect(await b.users.save(2, 'prod-2b')).toEqual({ id: 2, name: 'prod-2b' });
    await waitFor(async () => (await a.users.get(2))?.name === 'prod-2b', {
      timeoutMs: 1_000,
      message: 'A to see B write-through',
    });
    // Tags.
    expect(await a.users.search('prod')).toHaveLength(10);
    a.users.db.set(3, { id: 3, name: 'renamed-3' });
    expect(await b.cache.invalidateTags(['term:prod', 'user:3'])).toBeGreaterThan(0);
    // Other instances drop their memory copies when the bus message arrives.
    await waitFor(async () => (await a.users.search('prod')).length === 9, {
      timeoutMs: 1_000,
      message: 'A to see the tag invalidation',
    });
    await waitFor(async () => (await a.users.get(3))?.name === 'renamed-3', {
      timeoutMs: 1_000,
      message: 'A to see user:3 invalidated',
    });
    // Prefix invalidation and namespace clear (SCAN + UNLINK inside the prefix).
    for (const day of ['2026-01-01', '2026-01-02']) {
      await a.cache.set('stats', composeKey(7, day), { day, hits: 1 });
      await a.cache.set('stats', composeKey(8, day), { day, hits: 2 });
    }
    expect(await b.cache.invalidatePrefix('stats', [7])).toBe(2);
    expect(await a.cache.get('stats', composeKey(8, '2026-01-01'))).toEqual({ day: '2026-01-01', hits: 2 });
    expect(await a.cache.clearNamespace('stats')).toBe(2);
    expect(await a.cache.get('stats', composeKey(8, '2026-01-01'))).toBeUndefined();
    // Lists.
    expect(await a.cache.getOrSetList('feed', 1, () => ['p1', 'p2'], { maxLength: 3 })).toEqual(['p1', 'p2']);
    expect(await b.cache.append('feed', 1, ['p3', 'p4'], { maxLength: 3 })).toBe(true);
    expect(await a.cache.getList('feed', 1)).toEqual(['p2', 'p3', 'p4']);
    expect(await a.cache.setList('feed', 2, ['x'], { maxLength: 3 })).toBe(true);
    expect(await b.cache.getList('feed', 2)).toEqual(['x']);
    // Update in place.
    await a.cache.set('wallet', 1, { balance: 10 });
    expect(await b.cache.update<{ balance: number }>('wallet', 1, (w) => ({ balance: w.balance - 3 }))).toEqual({
      balance: 7,
    });
    await waitFor(async () => (await a.cache.get<{ balance: number }>('wallet', 1))?.balance === 7, {
      timeoutMs: 1_000,
      message: 'A to see the update',
    });
    // Warming, once per deploy across instances.
    const warmA = await a.cache.warm('user', [[100, { id: 100, name: 'warm' }]], { once: 'seed' });
    const warmB = await b.cache.warm('user', [[100, { id: 100, name: 'warm' }]], { once: 'seed' });
    expect([warmA.written, warmA.skipped, warmB.skipped]).toEqual([1, false, true]);
    // The whole namespace, last.
    expect(await b.cache.clearNamespace('user')).toBeGreaterThan(0);
    await waitFor(
      async () => {
        const loads = a.users.loads;
        await a.users.get(4);
        return a.users.loads > loads;
      },
      { timeoutMs: 1_000, message: 'A to reload after B cleared the namespace' },
    );

    // --- checks ---
    const after = await foreignSnapshot(admin);
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter((k) => before.get(k) !== after.get(k));
    expect(changed).toEqual([]);
    expect([...before.keys()].filter((k) => k.startsWith('d20-staging:')).length).toBeGreaterThan(0);

    // The staging instance: same values, from its memory tier, without one reload.
    for (let id = 1; id <= 10; id++) expect(await staging.users.get(id)).toEqual({ id, name: `staging-${id}` });
    expect(await staging.users.search('staging')).toHaveLength(10);
    expect(staging.users.loads).toBe(stagingLoads);

    const commandstats = parseInfo(String(await admin.info('commandstats')));
    const forbidden = Object.keys(commandstats).filter((k) =>
      FORBIDDEN.some((c) => k === `cmdstat_${c}` || k.startsWith(`cmdstat_${c}|`)),
    );
    expect(forbidden).toEqual([]);
    const aclLog = (await admin.acl('LOG')) as unknown[];
    expect(aclLog).toEqual([]);
    const errors = [a, b].reduce(
      (n, i) => n + Object.values(i.cache.stats().namespaces).reduce((m, s) => m + s.errors, 0),
      0,
    );
    expect(errors).toBe(0);
    expect(escapes.escaped).toEqual([]);

    const used = Object.keys(commandstats)
      .filter((k) => k.startsWith('cmdstat_'))
      .map((k) => k.slice('cmdstat_'.length))
      .sort();
    reporter.add('shared', {
      foreignKeys: before.size,
      foreignKeysChanged: changed.length,
      stagingReloads: staging.users.loads - stagingLoads,
      forbiddenCommandCalls: forbidden.length,
      aclDenials: aclLog.length,
      errors,
      commandsUsed: used.join(','),
      labelBoundsCoveredBy: 'test/observability/metrics.spec.ts (100,000 distinct keys)',
    });
  }, 30_000);
});
