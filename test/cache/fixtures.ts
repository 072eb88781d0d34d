import { Injectable } from '@nestjs/common';
import type { DynamicModule, INestApplicationContext, Type } from '@nestjs/common';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import { Cached, CacheInvalidate, CacheModule, CachePut } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';

/** A stand-in for a slow source: counts loads and holds the "database". */
@Injectable()
export class UserRepo {
  readonly rows = new Map<number, { id: number; name: string; balance: number } | null>();
  loads = 0;
  events: string[] = [];
  failNext: Error | undefined;
  gate: Promise<void> | undefined;

  @Cached({
    namespace: 'user',
    key: (id: number) => id,
    invalidateOn: { 'payment.completed': (e: { userId: number }) => e.userId },
  })
  async getUser(id: number): Promise<{ id: number; name: string; balance: number } | null> {
    this.loads++;
    if (this.gate) await this.gate;
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = undefined;
      throw err;
    }
    return this.rows.get(id) ?? null;
  }

  @CachePut({ namespace: 'user', key: (id: number) => id })
  async charge(id: number, amount: number): Promise<{ id: number; name: string; balance: number }> {
    const row = this.rows.get(id);
    if (!row) throw new Error(`no user ${id}`);
    const next = { ...row, balance: row.balance - amount };
    this.rows.set(id, next);
    return next;
  }

  @CacheInvalidate({ namespace: 'user', key: (id: number) => id })
  async rename(id: number, name: string): Promise<void> {
    const row = this.rows.get(id);
    if (!row) throw new Error(`no user ${id}`);
    this.rows.set(id, { ...row, name });
  }

  @OnEvent('user.renamed')
  @CacheInvalidate({ namespace: 'user', key: (e: { id: number }) => e.id })
  async onRenamed(e: { id: number; name: string }): Promise<void> {
    this.events.push(`renamed:${e.id}`);
    const row = this.rows.get(e.id);
    if (row) this.rows.set(e.id, { ...row, name: e.name });
  }

  /** Default key: the encoding of all arguments; tags from the arguments. */
  @Cached({ namespace: 'search', tags: (q: { term: string }) => [`term:${q.term}`] })
  async search(q: { term: string; limit: number }): Promise<string[]> {
    this.loads++;
    return [`${q.term}:${q.limit}`];
  }

  @Cached({ namespace: 'scalar', key: (v: unknown) => JSON.stringify(v) ?? 'undefined' })
  async echo<T>(v: T): Promise<T> {
    this.loads++;
    return v;
  }

  @Cached({ namespace: 'file', key: (id: string) => id })
  async file(id: string, size: number): Promise<Buffer> {
    this.loads++;
    return Buffer.alloc(size, id.charCodeAt(0));
  }
}

/** Boots a Nest application context with the cache module and the given providers. */
export async function bootCache(
  options: CacheModuleOptions,
  providers: Type[] = [UserRepo],
  extra: DynamicModule[] = [],
): Promise<INestApplicationContext> {
  const moduleRef = await Test.createTestingModule({
    imports: [EventEmitterModule.forRoot(), CacheModule.forRoot({ ...options, isGlobal: true }), ...extra],
    providers,
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}
