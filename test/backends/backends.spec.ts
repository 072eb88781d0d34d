import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CacheBackend } from '../../libs/cache/src/backends/cache-backend.interface.js';
import type { ReadResult } from '../../libs/cache/src/backends/cache-entry.js';
import { RedisHit, StoredEntry } from '../../libs/cache/src/backends/cache-entry.js';
import { MemoryBackend } from '../../libs/cache/src/backends/memory.backend.js';
import { createRedisClient } from '../../libs/cache/src/backends/redis/redis-client.factory.js';
import type { RedisClient } from '../../libs/cache/src/backends/redis/redis-client.factory.js';
import { RedisBackend } from '../../libs/cache/src/backends/redis/redis.backend.js';
import { TieredBackend } from '../../libs/cache/src/backends/tiered.backend.js';
import { encodeEntry } from '../../libs/cache/src/codec/entry.codec.js';
import { CacheError } from '../../libs/cache/src/errors/cache.error.js';
import { KeySpace } from '../../libs/cache/src/keys/key-space.js';
import { resolveOptions } from '../../libs/cache/src/options/options.resolver.js';
import { RedisServer } from '../harness/redis-server.js';
import { backendContract } from './backend.contract.js';
import type { BackendFixture } from './backend.contract.js';

let server: RedisServer;
let client: RedisClient;
let runs = 0;

beforeAll(async () => {
  server = await RedisServer.start();
  const redis = resolveOptions({ redis: server.url }).redis;
  if (!redis) throw new Error('expected Redis options');
  client = createRedisClient(redis, { commandTimeoutMs: 2_000, connectionName: 'backends-spec' }).client;
  client.on('error', () => undefined);
  await client.connect();
});

afterAll(async () => {
  await client.quit();
  await server.stop();
});

const memory = (): MemoryBackend => new MemoryBackend({ maxEntries: 10_000, maxBytes: 16 * 1024 * 1024 });
const raw = (): BackendFixture['raw'] => ({
  set: async (key, value) => void (await client.set(key, value)),
  exists: async (key) => (await client.exists(key)) === 1,
});
const redisBackend = (prefix: string): RedisBackend => new RedisBackend(client, new KeySpace(prefix));
const tiered = (prefix: string, mem = memory()): TieredBackend =>
  new TieredBackend(mem, redisBackend(prefix), () => true);

backendContract('MemoryBackend', async () => {
  const backend = memory();
  return { backend, prefix: `bk-mem-${++runs}`, cleanup: () => backend.close() };
});

backendContract('RedisBackend', async () => {
  const prefix = `bk-redis-${++runs}`;
  return { backend: redisBackend(prefix), prefix, cleanup: async () => undefined, raw: raw() };
});

backendContract('TieredBackend (memory + Redis)', async () => {
  const prefix = `bk-tier-${++runs}`;
  const backend = tiered(prefix);
  return { backend, prefix, cleanup: () => backend.close(), raw: raw() };
});

function encoded(value: unknown): Buffer {
  const now = Date.now();
  return encodeEntry({ value, createdAt: now, expiresAt: now + 60_000 });
}

async function put(backend: CacheBackend, key: string, value: unknown, tags?: string[]): Promise<boolean> {
  return backend.write(key, encoded(value), 60_000, tags ? { tags } : undefined);
}

/** A chaos wrapper: holds remote reads (`read` and `readUnchecked`) after Redis answered, until released. */
function gatedReads(inner: CacheBackend): { backend: CacheBackend; read: Promise<void>; release(): void } {
  let release!: () => void;
  let arrived!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const read = new Promise<void>((resolve) => (arrived = resolve));
  const backend = new Proxy(inner, {
    get(target, prop, receiver) {
      // Both ways a tier reads (readUnchecked is the hit path's read, whose failures recoverRead answers).
      if (prop !== 'read' && prop !== 'readUnchecked') return Reflect.get(target, prop, receiver) as unknown;
      return async (key: string): Promise<ReadResult> => {
        const result = await (prop === 'read' ? target.read(key) : target.readUnchecked!(key));
        arrived();
        await gate;
        return result;
      };
    },
  });
  return { backend, read, release };
}

describe('TieredBackend: the memory tier never outlives an invalidation', () => {
  it('a remote read racing an invalidation does not fill memory with the old value', async () => {
    const prefix = `bk-race-${++runs}`;
    const key = `${prefix}:user:1`;
    const remote = redisBackend(prefix);
    await put(remote, key, 'v1');
    const mem = memory();
    const chaos = gatedReads(remote);
    const backend = new TieredBackend(mem, chaos.backend, () => true);
    const reading = backend.read(key);
    await chaos.read;
    // Another instance deletes the key and its bus message reaches us while our Redis answer is in flight.
    await remote.delete([key]);
    mem.deleteSync([key]);
    chaos.release();
    const first = await reading;
    expect(first.hit && first.entry.value).toBe('v1');
    const next = await backend.read(key);
    expect(next.hit).toBe(false);
    expect(mem.peek(key)).toBeUndefined();
  });

  it('a memory copy filled from Redis goes with a tag invalidation, on the invalidating instance too', async () => {
    const prefix = `bk-tagfill-${++runs}`;
    const key = `${prefix}:user:1`;
    const writer = tiered(prefix);
    const reader = tiered(prefix);
    await put(writer, key, 'v1', ['user:1']);
    expect((await reader.read(key)).hit).toBe(true);
    expect(reader.memory.peek(key)).toBeDefined();

    expect(await reader.invalidateTags(['user:1'])).toBe(1);
    expect((await reader.read(key)).hit).toBe(false);

    // The other instance only learns the tag from the bus (applied with invalidateTagsSync).
    await put(writer, key, 'v2', ['user:1']);
    expect((await reader.read(key)).hit).toBe(true);
    writer.memory.invalidateTagsSync(['user:1']);
    reader.memory.invalidateTagsSync(['user:1']);
    await writer.remote.invalidateTags(['user:1']);
    expect((await reader.read(key)).hit).toBe(false);
    expect((await writer.read(key)).hit).toBe(false);
  });

  it('a value too big for the memory tier does not leave the previous one there', async () => {
    const prefix = `bk-big-${++runs}`;
    const key = `${prefix}:file:1`;
    // Sized so the small value fits whatever the tier counts per entry (encoded bytes or heap estimate + overhead).
    const backend = tiered(prefix, new MemoryBackend({ maxEntries: 10, maxBytes: 4096 }));
    await put(backend, key, 'small');
    expect(backend.memory.peek(key)?.value).toBe('small');
    const big = 'x'.repeat(16 * 1024);
    expect(await put(backend, key, big)).toBe(true);
    const read = await backend.read(key);
    expect(read.hit && read.entry.value).toBe(big);
  });
});

describe('RedisBackend with decode hints: what a hit says its value is made of', () => {
  it('ASCII JSON says so (plain or tag-stamped); non-ASCII, escaped and tagged values do not; off, nothing does', async () => {
    const prefix = `bk-hints-${++runs}`;
    const hinted = new RedisBackend(client, new KeySpace(prefix), { decodeHints: true });
    const plain = redisBackend(prefix);
    const cases: [string, unknown, string[] | undefined, boolean][] = [
      ['ascii', { name: 'Ada', n: [1, 2.5] }, undefined, true],
      ['ascii-tagged', { name: 'Ada' }, ['org:1'], true],
      ['latin1', { name: 'Adé' }, undefined, false],
      // JSON.stringify writes a control character as a \u escape.
      ['escaped', { name: 'a\u0001b' }, undefined, false],
      ['map', new Map([['a', 1]]), undefined, false],
    ];
    for (const [name, value, tags, ascii] of cases) {
      const key = `${prefix}:${name}`;
      await put(hinted, key, value, tags);
      const read = await hinted.read(key);
      expect(read.hit && [read.entry.value, read.asciiJson]).toEqual([value, ascii]);
      const unhinted = await plain.read(key);
      expect(unhinted.hit && unhinted.asciiJson).toBe(false);
    }
  });

  it('a hit, plain or tag-stamped, is a RedisHit holding a StoredEntry (made by new: never pretenured)', async () => {
    const prefix = `bk-hitclass-${++runs}`;
    const backend = redisBackend(prefix);
    for (const [name, tags] of [
      ['plain', undefined],
      ['tagged', ['org:1']],
    ] as const) {
      const key = `${prefix}:${name}`;
      await put(backend, key, { id: 1 }, tags === undefined ? undefined : [...tags]);
      const read = await backend.read(key);
      expect(read).toBeInstanceOf(RedisHit);
      expect(read.hit && read.entry).toBeInstanceOf(StoredEntry);
      expect(read.hit && [read.tier, read.tags, read.entry.value]).toEqual(['redis', tags ?? [], { id: 1 }]);
    }
  });

  it('a tiered fill from a hinted hit is sized as a write of the same value is', async () => {
    const prefix = `bk-hintfill-${++runs}`;
    const key = `${prefix}:user:1`;
    const value = { id: 1, name: 'Ada Lovelace', langs: ['en', 'fr'], balance: 12.5 };
    const writer = new TieredBackend(
      memory(),
      new RedisBackend(client, new KeySpace(prefix), { decodeHints: true }),
      () => true,
    );
    await put(writer, key, value);
    const reader = new TieredBackend(
      memory(),
      new RedisBackend(client, new KeySpace(prefix), { decodeHints: true }),
      () => true,
    );
    const read = await reader.read(key);
    expect(read.hit && read.asciiJson).toBe(true);
    expect(reader.memory.peek(key)?.value).toEqual(value);
    expect(reader.memory.usage).toEqual(writer.memory.usage);
  });
});

describe('RedisBackend: keys outside the prefix', () => {
  it('refuses them with E_MISUSE and sends nothing', async () => {
    const prefix = `bk-own-${++runs}`;
    const backend = redisBackend(prefix);
    const foreign = [`other-${prefix}:user:1`, `${prefix}x:user:1`, 'user:1'];
    for (const key of foreign) await client.set(key, 'not ours');
    const misuse = async (op: () => Promise<unknown>): Promise<string | undefined> => {
      try {
        await op();
        return undefined;
      } catch (err) {
        return err instanceof CacheError ? err.code : String(err);
      }
    };
    for (const key of foreign) {
      expect(await misuse(() => backend.read(key))).toBe('E_MISUSE');
      expect(await misuse(() => backend.write(key, encoded('x'), 60_000))).toBe('E_MISUSE');
      expect(await misuse(() => backend.delete([key]))).toBe('E_MISUSE');
      expect(await misuse(() => backend.update(key, () => 'x'))).toBe('E_MISUSE');
      expect(await misuse(() => backend.readList(key))).toBe('E_MISUSE');
      expect(await misuse(() => backend.clearPrefix(key))).toBe('E_MISUSE');
      expect(await client.get(key)).toBe('not ours');
    }
  });
});
