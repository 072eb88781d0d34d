// Type tests of the decorators (issue "Real apps", typed keys): each `@ts-expect-error` line must fail to compile —
// if it ever compiles, tsc reports the unused directive and the suite fails. The other declarations must compile.
// Checked by `tsc` (npm test's first step) and by test/types/decorator-types.spec.ts.
import { Injectable } from '@nestjs/common';
import { Cached, CacheInvalidate, CachePut, composeKey } from 'nestjs-tiercache';

interface User {
  id: number;
  name: string;
}

@Injectable()
export class Fits {
  @Cached({ namespace: 'user', key: (id: number) => id, invalidateOn: { 'user.changed': (e: { id: number }) => e.id } })
  async byId(id: number): Promise<User | null> {
    return { id, name: 'x' };
  }

  // The key function may use a prefix of the parameters.
  @Cached({ namespace: 'price', key: (id: number) => id, condition: (id: number) => id > 0 })
  async price(id: number, _currency: string): Promise<number> {
    return id;
  }

  // Without `key`, invalidateOn names the one argument.
  @Cached({ namespace: 'by-name', invalidateOn: { 'user.renamed': (e: { name: string }) => e.name } })
  async byName(name: string): Promise<User | null> {
    return { id: 1, name };
  }

  // Several keys, or none, from an event.
  @Cached({
    namespace: 'order',
    key: (orgId: number, day: string) => composeKey(orgId, day),
    invalidateOn: { 'orders.closed': (e: { keys: string[] }) => e.keys, noop: () => undefined },
  })
  async orders(orgId: number, day: string): Promise<string[]> {
    return [`${orgId}:${day}`];
  }

  @Cached({ namespace: 'ttl', ttl: (user: User | null) => (user ? '1h' : '1m') })
  async ttlOfResult(_id: number): Promise<User | null> {
    return null;
  }

  @CachePut({ namespace: 'user', key: (id: number) => id, ttl: (user: User) => (user.id > 0 ? '1h' : '1m') })
  async save(id: number, name: string): Promise<User> {
    return { id, name };
  }

  @CacheInvalidate({ namespace: 'user', key: (id: number) => id, tags: (id: number) => [`user:${id}`] })
  async remove(_id: number): Promise<void> {}

  // A named cache (CacheModule.forRoot({ name: 'catalogue' })).
  @Cached({ cache: 'catalogue', namespace: 'item', key: (id: number) => id })
  async item(id: number): Promise<User> {
    return { id, name: 'item' };
  }
}

@Injectable()
export class NamedCacheMismatch {
  // @ts-expect-error a cache is named by a string
  @Cached({ cache: 42, namespace: 'item' })
  async item(id: number): Promise<User> {
    return { id, name: 'item' };
  }
}

@Injectable()
export class Mismatches {
  // @ts-expect-error the key function takes a string, the method a number
  @Cached({ namespace: 'user', key: (id: string) => id.toUpperCase() })
  async getUser(id: number): Promise<User> {
    return { id, name: 'x' };
  }

  // @ts-expect-error condition's parameters are not the method's
  @Cached({ namespace: 'user', condition: (flag: boolean) => flag })
  async byNumber(id: number): Promise<User> {
    return { id, name: 'x' };
  }

  // @ts-expect-error tags from other parameters than the method's
  @Cached({ namespace: 'user', tags: (q: { org: number }) => [`org:${q.org}`] })
  async search(term: string): Promise<string[]> {
    return [term];
  }

  // @ts-expect-error invalidateOn returns a string, the key is a number
  @Cached({ namespace: 'user', key: (id: number) => id, invalidateOn: { 'user.changed': (e: { id: string }) => e.id } })
  async byKey(id: number): Promise<User> {
    return { id, name: 'x' };
  }

  // @ts-expect-error without `key`, invalidateOn must name the one argument (a number here)
  @Cached({ namespace: 'user', invalidateOn: { 'user.changed': (e: { name: string }) => e.name } })
  async byDefaultKey(id: number): Promise<User> {
    return { id, name: 'x' };
  }

  // @ts-expect-error ttl's function takes another type than the result
  @Cached({ namespace: 'user', ttl: (order: { total: number }) => (order.total > 0 ? '1h' : '1m') })
  async ttlMismatch(id: number): Promise<User> {
    return { id, name: 'x' };
  }

  // @ts-expect-error @CachePut's key takes a string, the method a number
  @CachePut({ namespace: 'user', key: (id: string) => id })
  async put(id: number): Promise<User> {
    return { id, name: 'x' };
  }

  // @ts-expect-error @CacheInvalidate's keys take other parameters
  @CacheInvalidate({ namespace: 'user', keys: (ids: string[]) => ids })
  async drop(_id: number): Promise<void> {}

  // @ts-expect-error a cache decorator needs an async method
  @Cached({ namespace: 'sync' })
  syncMethod(id: number): number {
    return id;
  }
}
