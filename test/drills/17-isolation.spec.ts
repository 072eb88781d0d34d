// Drill 17 — isolation: identity that does not come from the arguments. A @Cached method on a request-scoped (or
// transient, or implicitly request-scoped) provider refuses boot naming Class#method; class-transformer @Exclude()
// fields never reappear on a hit: through an HTTP controller with ClassSerializerInterceptor, miss and hit responses
// are identical and never contain passwordHash, the raw Redis value never contains it, and with `type` hits are
// instances of the entity.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  ClassSerializerInterceptor,
  Controller,
  Get,
  Inject,
  Injectable,
  Param,
  ParseIntPipe,
  Scope,
  UseInterceptors,
} from '@nestjs/common';
import type { INestApplication, Type } from '@nestjs/common';
import { REQUEST } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { Exclude, Expose } from 'class-transformer';
import { Redis } from 'ioredis';
import request from 'supertest';
import { Cached, CacheError, CacheModule, CacheService } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { RedisServer } from '../harness/redis-server.js';
import { reportDrill } from './support/processes.js';
import { entryKey } from '../support/cache-internals.js';

// Real servers, processes and fault injection: slower than a unit test, especially on a loaded machine.
jest.setTimeout(60_000);

const SECRET = 'argon2id$v=19$s3cr3t-hash';

class UserEntity {
  id!: number;
  name!: string;
  @Exclude()
  passwordHash!: string;

  constructor(partial: Partial<UserEntity> = {}) {
    Object.assign(this, partial);
  }

  @Expose()
  get label(): string {
    return `#${this.id} ${this.name}`;
  }
}

const row = (id: number): UserEntity => new UserEntity({ id, name: `user${id}`, passwordHash: SECRET });

@Injectable()
class Users {
  loads = 0;

  @Cached({ namespace: 'user', key: (id: number) => id, type: UserEntity })
  async typed(id: number): Promise<UserEntity> {
    this.loads++;
    return row(id);
  }

  @Cached({ namespace: 'user-untyped', key: (id: number) => id })
  async untyped(id: number): Promise<UserEntity> {
    this.loads++;
    return row(id);
  }

  @Cached({ namespace: 'user-list', key: () => 'all', type: UserEntity })
  async list(): Promise<UserEntity[]> {
    this.loads++;
    return [row(1), row(2)];
  }

  /** A plain object carrying an entity: the entity's @Exclude() fields must not be cached either. */
  @Cached({ namespace: 'profile', key: (id: number) => id })
  async profile(id: number): Promise<{ since: string; user: UserEntity; friends: UserEntity[] }> {
    this.loads++;
    return { since: '2020', user: row(id), friends: [row(id + 100)] };
  }
}

@Controller()
@UseInterceptors(ClassSerializerInterceptor)
class UsersController {
  constructor(private readonly users: Users) {}

  @Get('users/:id')
  typed(@Param('id', ParseIntPipe) id: number): Promise<UserEntity> {
    return this.users.typed(id);
  }

  @Get('untyped/:id')
  untyped(@Param('id', ParseIntPipe) id: number): Promise<UserEntity> {
    return this.users.untyped(id);
  }

  @Get('users')
  list(): Promise<UserEntity[]> {
    return this.users.list();
  }

  @Get('profiles/:id')
  profile(@Param('id', ParseIntPipe) id: number): Promise<unknown> {
    return this.users.profile(id);
  }
}

@Injectable({ scope: Scope.REQUEST })
class PerRequestUsers {
  @Cached({ namespace: 'rq', key: (id: number) => id })
  async find(id: number): Promise<number> {
    return id;
  }
}

@Injectable({ scope: Scope.TRANSIENT })
class TransientUsers {
  @Cached({ namespace: 'tr', key: (id: number) => id })
  async find(id: number): Promise<number> {
    return id;
  }
}

/** A default-scoped provider that injects REQUEST is request-scoped too: its identity comes from the request. */
@Injectable()
class CurrentUserStats {
  constructor(@Inject(REQUEST) private readonly req: { headers: Record<string, string> }) {}

  @Cached({ namespace: 'me', key: () => 'me' })
  async mine(): Promise<string> {
    return this.req.headers['x-user'] ?? 'anon';
  }
}

let redis: RedisServer;
let raw: Redis;
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  redis = await RedisServer.start();
  raw = new Redis({ port: redis.port, lazyConnect: true, maxRetriesPerRequest: 0, disconnectTimeout: 0 });
  raw.on('error', () => undefined);
  await raw.connect();
});
afterAll(async () => {
  await raw?.quit();
  await redis?.stop();
  reportDrill('17', figures, `isolation: ${JSON.stringify(figures)}`);
});

describe('drill 17: identity that does not come from the arguments refuses boot', () => {
  it.each([
    ['request-scoped', 'PerRequestUsers#find', PerRequestUsers],
    ['transient', 'TransientUsers#find', TransientUsers],
    ['implicitly request-scoped (injects REQUEST)', 'CurrentUserStats#mine', CurrentUserStats],
  ] as [string, string, Type][])('%s provider: boot fails naming %s', async (_scope, where, provider) => {
    const moduleRef = await Test.createTestingModule({
      imports: [CacheModule.forRoot({ prefix: 'drill17-scope' })],
      providers: [provider],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    let error: unknown;
    try {
      await app.init();
    } catch (err) {
      error = err;
    } finally {
      await app.close().catch(() => undefined);
    }
    expect(error).toBeInstanceOf(CacheError);
    expect((error as CacheError).code).toBe('E_MISUSE');
    expect((error as CacheError).message).toContain(where);
    expect((error as CacheError).message).toMatch(/Fix: /);
    figures['refusedAtBoot'] = [...((figures['refusedAtBoot'] as string[] | undefined) ?? []), where];
  });
});

const modes: [string, () => CacheModuleOptions][] = [
  ['memory', () => ({ prefix: 'drill17-mem' })],
  ['redis', () => ({ prefix: 'drill17-redis', redis: redis.url })],
  ['redis+memory', () => ({ prefix: 'drill17-tier', redis: redis.url, memory: { maxEntries: 1000 } })],
];

describe.each(modes)('drill 17: @Exclude() fields never reappear on a hit (%s)', (mode, options) => {
  let app: INestApplication;
  let users: Users;
  let cache: CacheService;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [CacheModule.forRoot(options())],
      controllers: [UsersController],
      providers: [Users],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    users = app.get(Users);
    cache = app.get(CacheService);
  });
  afterAll(async () => {
    await app.close();
  });

  it.each([
    ['/users/1', 'user', 1],
    ['/untyped/2', 'user-untyped', 2],
    ['/users', 'user-list', 'all'],
    ['/profiles/3', 'profile', 3],
  ] as [string, string, string | number][])(
    'GET %s: miss and hit responses identical, no passwordHash anywhere',
    async (path, namespace, key) => {
      const loads = users.loads;
      const miss = await request(app.getHttpServer()).get(path).expect(200);
      const hit = await request(app.getHttpServer()).get(path).expect(200);
      expect(users.loads).toBe(loads + 1);
      expect(hit.text).toBe(miss.text);
      for (const body of [miss.text, hit.text]) {
        expect(body).not.toContain('passwordHash');
        expect(body).not.toContain('s3cr3t');
        expect(body).toContain('label');
      }
      if (mode !== 'memory') {
        const stored = await raw.getBuffer(entryKey(app, namespace, key));
        expect(stored).not.toBeNull();
        expect(stored?.toString('latin1')).not.toContain('passwordHash');
        expect(stored?.toString('latin1')).not.toContain('s3cr3t');
      }
      // Whatever the cache hands back on a hit carries no secret either, even before serialization.
      const served = JSON.stringify(await cache.get(namespace, key));
      expect(served).not.toContain('s3cr3t');
      figures[`${mode}:${path}`] = { identical: hit.text === miss.text, bytes: miss.text.length };
    },
  );

  it('with `type`, hits are instances of the entity (serializers treat them like misses)', async () => {
    const first = await users.typed(7);
    const loads = users.loads;
    const again = await users.typed(7);
    const list = await users.list();
    expect(users.loads).toBe(loads);
    expect(first).toBeInstanceOf(UserEntity);
    expect(again).toBeInstanceOf(UserEntity);
    expect(again.label).toBe('#7 user7');
    expect(again.passwordHash).toBeUndefined();
    expect(list.every((u) => u instanceof UserEntity)).toBe(true);
  });
});
