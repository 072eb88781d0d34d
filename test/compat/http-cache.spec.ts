// nestjs-tiercache/compat's CacheInterceptor end to end, on Express and on Fastify: the behaviours of
// @nestjs/cache-manager's e2e suite (X-Cache, GET only, URL keys, @CacheKey, @CacheTTL on handler / controller /
// function, default TTL, trackBy and isRequestCacheable overrides) and tiercache's safe default for requests that
// carry credentials (@CacheScope).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Inject, Injectable, Post, UseInterceptors } from '@nestjs/common';
import type { ExecutionContext } from '@nestjs/common';
import { CACHE_MANAGER, CacheInterceptor, CacheKey, CacheModule, CacheScope, CacheTTL } from 'nestjs-tiercache/compat';
import type { Cache } from 'nestjs-tiercache/compat';
import { waitFor } from '../harness/wait-for.js';
import { bootHttp, PLATFORMS } from './compat-app.js';
import type { CompatApp, Platform } from './compat-app.js';

const SHORT_TTL_MS = 300;
const counts = new Map<string, number>();
const hit = (route: string): { route: string; calls: number } => {
  const calls = (counts.get(route) ?? 0) + 1;
  counts.set(route, calls);
  return { route, calls };
};
const userOf = (ctx: ExecutionContext): unknown =>
  ctx.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>().headers['x-user'];

@Controller()
@UseInterceptors(CacheInterceptor)
class ItemsController {
  @Get('items')
  items() {
    return hit('items');
  }

  @Post('items')
  create() {
    return hit('post');
  }

  @Get('short')
  @CacheTTL(SHORT_TTL_MS)
  short() {
    return hit('short');
  }

  @Get('fn-ttl')
  @CacheTTL(() => SHORT_TTL_MS)
  fnTtl() {
    return hit('fn-ttl');
  }

  @Get('keyed')
  @CacheKey('fixed-key')
  keyed() {
    return hit('keyed');
  }

  @Get('public')
  @CacheScope('public')
  everyone() {
    return hit('public');
  }

  @Get('me')
  @CacheScope(userOf)
  me() {
    return hit('me');
  }
}

@Controller('class-ttl')
@CacheTTL(SHORT_TTL_MS)
@UseInterceptors(CacheInterceptor)
class ClassTtlController {
  @Get()
  get() {
    return hit('class-ttl');
  }
}

/** trackBy overridden (and below isRequestCacheable), as apps do with @nestjs/cache-manager. */
@Injectable()
class TenantCacheInterceptor extends CacheInterceptor {
  protected override trackBy(context: ExecutionContext): string | undefined {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
    return `tenant:${req.headers['x-tenant'] ?? 'none'}`;
  }
}

@Injectable()
class OptOutCacheInterceptor extends CacheInterceptor {
  protected override isRequestCacheable(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
    return req.headers['x-no-cache'] === undefined;
  }
}

@Controller('tenant')
@UseInterceptors(TenantCacheInterceptor)
class TenantController {
  @Get()
  get() {
    return hit('tenant');
  }
}

@Controller('opt-out')
@UseInterceptors(OptOutCacheInterceptor)
class OptOutController {
  @Get()
  get() {
    return hit('opt-out');
  }
}

@Controller('manager')
class ManagerController {
  constructor(@Inject(CACHE_MANAGER) private readonly cache: Cache) {}

  @Get('fixed-key')
  async fixed(): Promise<unknown> {
    return { value: (await this.cache.get('fixed-key')) ?? null };
  }
}

describe.each(PLATFORMS)('CacheInterceptor on %s', (platform: Platform) => {
  let app: CompatApp;
  const route = (name: string): string => `${platform}:${name}`;
  beforeAll(async () => {
    counts.clear();
    app = await bootHttp(
      {
        imports: [CacheModule.register({ ttl: 60_000 })],
        controllers: [ItemsController, ClassTtlController, TenantController, OptOutController, ManagerController],
      },
      platform,
    );
  });
  afterAll(async () => {
    await app?.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) => {
    let req = app.http().get(path);
    for (const [name, value] of Object.entries(headers)) req = req.set(name, value);
    return req;
  };

  it('caches a GET by URL: MISS then HIT with the same body (X-Cache header)', async () => {
    const first = await get('/items?q=1').expect(200);
    expect(first.headers['x-cache']).toBe('MISS');
    const second = await get('/items?q=1').expect(200);
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.body).toEqual(first.body);
    // Another URL (query included) is another entry.
    const other = await get('/items?q=2').expect(200);
    expect(other.headers['x-cache']).toBe('MISS');
    expect(other.body).not.toEqual(first.body);
    expect(route('')).toContain(platform);
  });

  it('never caches other methods (GET only by default)', async () => {
    const a = await app.http().post('/items').expect(201);
    const b = await app.http().post('/items').expect(201);
    expect(a.headers['x-cache']).toBeUndefined();
    expect((b.body as { calls: number }).calls).toBe((a.body as { calls: number }).calls + 1);
  });

  it.each(['/short', '/fn-ttl', '/class-ttl'])(
    '%s: @CacheTTL (handler, function form, controller) expires before the module default',
    async (path) => {
      await get(path).expect(200);
      expect((await get(path)).headers['x-cache']).toBe('HIT');
      await waitFor(async () => (await get(path)).headers['x-cache'] === 'MISS', {
        timeoutMs: 5_000,
        intervalMs: 50,
        message: `${path} to expire after ${SHORT_TTL_MS} ms`,
      });
      // The module default (60 s) still holds for a route without @CacheTTL.
      await get('/items?default').expect(200);
      expect((await get('/items?default')).headers['x-cache']).toBe('HIT');
    },
  );

  it('@CacheKey: one entry whatever the URL, readable through CACHE_MANAGER', async () => {
    const first = await get('/keyed?a=1').expect(200);
    const second = await get('/keyed?b=2').expect(200);
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.body).toEqual(first.body);
    const stored = await get('/manager/fixed-key').expect(200);
    expect(stored.body).toEqual({ value: first.body });
  });

  it('trackBy and isRequestCacheable overrides are honoured', async () => {
    const a = await get('/tenant', { 'x-tenant': 'a' });
    const a2 = await get('/tenant?other', { 'x-tenant': 'a' });
    expect(a2.headers['x-cache']).toBe('HIT');
    expect(a2.body).toEqual(a.body);
    expect((await get('/tenant', { 'x-tenant': 'b' })).headers['x-cache']).toBe('MISS');
    const cached = await get('/opt-out').expect(200);
    expect((await get('/opt-out')).headers['x-cache']).toBe('HIT');
    const skipped = await get('/opt-out', { 'x-no-cache': '1' });
    expect(skipped.headers['x-cache']).toBeUndefined();
    expect(skipped.body).not.toEqual(cached.body);
  });

  describe('safe by default: requests carrying credentials', () => {
    it.each([
      ['Authorization', { authorization: 'Bearer alice-token' }],
      ['Cookie', { cookie: 'sid=alice-session' }],
    ])('with %s and no @CacheScope: never cached, never served from the cache', async (_name, headers) => {
      const path = `/items?creds=${_name}`;
      const anonymous = await get(path).expect(200); // cached for anonymous callers
      const withCreds = await get(path, headers).expect(200);
      expect(withCreds.headers['x-cache']).toBeUndefined();
      expect(withCreds.body).not.toEqual(anonymous.body); // the handler ran: not served another caller's copy
      const again = await get(path, headers).expect(200);
      expect(again.body).not.toEqual(withCreds.body); // and its own response was not stored
    });

    it("@CacheScope('public'): cached by URL whoever asks", async () => {
      const alice = await get('/public', { authorization: 'Bearer alice' }).expect(200);
      const bob = await get('/public', { cookie: 'sid=bob' }).expect(200);
      expect(bob.headers['x-cache']).toBe('HIT');
      expect(bob.body).toEqual(alice.body);
    });

    it('@CacheScope(callerOf): one copy per caller; a caller it cannot name is not cached', async () => {
      const alice = await get('/me', { authorization: 'Bearer a', 'x-user': 'alice' }).expect(200);
      const alice2 = await get('/me', { authorization: 'Bearer a', 'x-user': 'alice' }).expect(200);
      expect(alice2.headers['x-cache']).toBe('HIT');
      expect(alice2.body).toEqual(alice.body);
      const bob = await get('/me', { authorization: 'Bearer b', 'x-user': 'bob' }).expect(200);
      expect(bob.headers['x-cache']).toBe('MISS');
      expect(bob.body).not.toEqual(alice.body);
      const unknown = await get('/me', { authorization: 'Bearer c' }).expect(200);
      expect(unknown.headers['x-cache']).toBeUndefined();
      // Anonymous callers (no credentials, no caller) share one copy, apart from every named caller's.
      const anonymous = await get('/me').expect(200);
      expect(anonymous.headers['x-cache']).toBe('MISS');
      const anonymous2 = await get('/me').expect(200);
      expect(anonymous2.headers['x-cache']).toBe('HIT');
      expect(anonymous2.body).toEqual(anonymous.body);
      expect(anonymous.body).not.toEqual(alice.body);
    });
  });
});
