// The peer libraries `npm run bench` measures tiercache against, each set up the way its README recommends.
// Plain JavaScript on purpose: these packages live in bench/peers/node_modules (their own package and lock, installed
// by the bench), so the project's `tsc` must not need them. peers.d.ts describes this module to the TypeScript benches.
import { readFileSync } from 'node:fs';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis';
import { createCache } from 'cache-manager';
import { CacheableMemory } from 'cacheable';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import { createKeyv } from '@keyv/redis';

const version = (name) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url), 'utf8')).version;

/** Installed versions of the peers (and of the clients they talk to Redis with). */
export const versions = Object.fromEntries(
  ['ioredis', 'cache-manager', 'keyv', '@keyv/redis', '@redis/client', 'cacheable', 'bentocache'].map((n) => [
    n,
    version(n),
  ]),
);

/** Raw ioredis 5 with its defaults, as `new Redis(...)` in its README. */
export function ioredis5(options) {
  return new Redis(options);
}

/**
 * cache-manager 7. Redis only: `createCache({ stores: [createKeyv(url)] })` (@keyv/redis's `createKeyv`). With a
 * memory tier: the README's layer 1 / layer 2 example, `new Keyv({ store: new CacheableMemory({ ttl, lruSize }) })`
 * in front of `new Keyv({ store: new KeyvRedis(url) })` — here `createKeyv(url)`, the same store without Keyv's key
 * prefix.
 */
export function cacheManager(url, { memoryEntries } = {}) {
  const redis = createKeyv(url);
  const stores = memoryEntries
    ? [new Keyv({ store: new CacheableMemory({ ttl: 3_600_000, lruSize: memoryEntries }) }), redis]
    : [redis];
  const cache = createCache({ stores });
  let errors = 0;
  for (const s of stores) s.on('error', () => errors++);
  cache.on('error', () => errors++);
  return {
    getOrSet: (key, load, ttlMs) => cache.wrap(key, load, ttlMs),
    set: async (key, value, ttlMs) => void (await cache.set(key, value, ttlMs)),
    errors: () => errors,
    close: async () => void (await cache.disconnect()),
  };
}

/**
 * bentocache 1.6. Redis only: one store with `redisDriver` as its L2. With a memory tier: the README's multi-tier
 * store, `memoryDriver({ maxSize: '10mb', maxItems })` + `redisDriver` + `redisBusDriver` (the bus keeps the
 * instances' L1s in sync).
 */
export function bentocache(host, port, { memoryEntries } = {}) {
  const connection = { host, port };
  let store = bentostore();
  if (memoryEntries) store = store.useL1Layer(memoryDriver({ maxSize: '10mb', maxItems: memoryEntries }));
  store = store.useL2Layer(redisDriver({ connection }));
  if (memoryEntries) store = store.useBus(redisBusDriver({ connection }));
  const bento = new BentoCache({ default: 'cache', stores: { cache: store } });
  return {
    getOrSet: (key, load, ttlMs) => bento.getOrSet({ key, factory: load, ttl: ttlMs }),
    set: async (key, value, ttlMs) => void (await bento.set({ key, value, ttl: ttlMs })),
    errors: () => 0,
    close: () => bento.disconnect(),
  };
}
