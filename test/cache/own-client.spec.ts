// Your own client (issue "Real apps"): an ioredis client the app already has, a factory, or ioredis options passed
// through. tiercache uses it (commands and the bus), warns once naming each fail-fast setting it lacks, and never
// closes a client it was given.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { Redis } from 'ioredis';
import { Cached, CacheService } from 'nestjs-tiercache';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { bootApp, CollectingLogger } from '../drills/support/faults.js';

@Injectable()
class Source {
  loads = 0;

  @Cached({ namespace: 'item', key: (id: number) => id })
  async item(id: number): Promise<{ id: number; load: number }> {
    return { id, load: ++this.loads };
  }
}

let redis: RedisServer;
let probe: Redis;
beforeAll(async () => {
  redis = await RedisServer.start();
  probe = new Redis({ host: redis.host, port: redis.port, lazyConnect: true, maxRetriesPerRequest: 1 });
  await probe.connect();
});
afterAll(async () => {
  probe?.disconnect();
  await redis?.stop();
});

async function clientNames(): Promise<string[]> {
  const list = (await probe.client('LIST')) as string;
  return list
    .split('\n')
    .map((line) => /name=(\S*)/.exec(line)?.[1] ?? '')
    .filter(Boolean);
}

describe('redis: { client } and redis: { ioredis }', () => {
  it("uses the app's own client (and a duplicate for the bus), warns about its settings, and leaves it open", async () => {
    const own = new Redis({ host: redis.host, port: redis.port, connectionName: 'app-own' });
    await waitFor(() => own.status === 'ready', { message: 'the app client ready' });
    const logger = new CollectingLogger();
    const app = await bootApp({ prefix: 'own', redis: { client: own }, memory: {} }, { providers: [Source], logger });
    try {
      const source = app.get(Source);
      await source.item(1);
      await source.item(1);
      expect(source.loads).toBe(1);
      expect(await probe.exists('own:item:=n1')).toBe(1);
      expect(app.get(CacheService).stats().redisConnected).toBe(true);
      const warning = logger.matching(/would let cache calls wait or pile up/, 'warn');
      expect(warning).toHaveLength(1);
      expect(warning[0]).toMatch(/enableOfflineQueue: false.*commandTimeout.*maxRetriesPerRequest/);
    } finally {
      await app.close();
    }
    // Still the app's: open and usable after the module is gone.
    expect(own.status).toBe('ready');
    expect(await own.ping()).toBe('PONG');
    own.disconnect();
  });

  it('takes a factory (one connection per call, closed by tiercache) and refuses mixing client with other options', async () => {
    const made: Redis[] = [];
    const factory = (): Redis => {
      const c = new Redis({
        host: redis.host,
        port: redis.port,
        lazyConnect: true,
        enableOfflineQueue: false,
        commandTimeout: 250,
        maxRetriesPerRequest: 0,
        connectionName: `factory-${made.length}`,
      });
      made.push(c);
      return c;
    };
    const logger = new CollectingLogger();
    const app = await bootApp(
      { prefix: 'fac', redis: { client: factory }, memory: {} },
      { providers: [Source], logger },
    );
    const source = app.get(Source);
    await source.item(2);
    expect(made).toHaveLength(2);
    expect(logger.matching(/would let cache calls wait/, 'warn')).toEqual([]);
    await app.close();
    await waitFor(() => made.every((c) => c.status === 'end'), { message: 'factory clients closed' });
    await expect(
      bootApp({ prefix: 'x', redis: { client: factory, host: 'h' } as never }, { providers: [] }),
    ).rejects.toMatchObject({ code: 'E_INVALID_OPTION' });
  });

  it('passes ioredis options through (here connectionName), over the fail-fast defaults', async () => {
    const app = await bootApp(
      { prefix: 'pass', redis: { host: redis.host, port: redis.port, ioredis: { connectionName: 'passed-through' } } },
      { providers: [Source] },
    );
    try {
      await app.get(Source).item(3);
      expect(await clientNames()).toContain('passed-through');
    } finally {
      await app.close();
    }
  });
});
