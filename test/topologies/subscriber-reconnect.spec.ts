/**
 * Found during the Sentinel failover drill (sentinel.spec.ts): when the bus subscriber reconnects and the server
 * closes the connection right after answering the ready check (a sentinel's CLIENT KILL during promotion, a proxy,
 * a restart), ioredis's `autoResubscribe` sends SUBSCRIBE on a stream that is no longer writable and nobody handles
 * that promise: an unhandledRejection ("Stream isn't writeable and enableOfflineQueue options is false"), which
 * crashes a Node process running with the default --unhandled-rejections=throw. Drill 1: "no unhandledRejection on
 * any connection (subscriber included)". Reproduced deterministically with a fake RESP server that sends the INFO
 * reply and FIN together.
 */
import { afterAll, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRedisClient } from '../../libs/cache/src/backends/redis/redis-client.factory.js';
import { waitFor } from '../harness/wait-for.js';
import { watchEscapes } from './support/app.js';
import { FakeRedis } from './support/fake-redis.js';

const escapes = watchEscapes();
afterAll(() => escapes.stop());

it('a subscriber whose reconnect is cut right after the ready check raises no unhandled rejection, and resubscribes', async () => {
  // Connection 0: normal. Connection 1 (the first reconnect): INFO answered, then FIN at once. Connection 2: normal.
  const fake = await FakeRedis.start((cmd) =>
    cmd.connection === 1 && cmd.args[0]?.toUpperCase() === 'INFO'
      ? { reply: FakeRedis.INFO, thenClose: true }
      : undefined,
  );
  const client = createRedisClient(
    { mode: 'standalone', host: '127.0.0.1', port: fake.port, db: 0, connectTimeoutMs: 1_000 },
    { commandTimeoutMs: 250, connectionName: 'topo:cache:bus' },
  ).client;
  client.on('error', () => undefined);
  // What the invalidation bus does: subscribe explicitly on every 'ready' (it does not rely on autoResubscribe).
  client.on('ready', () => void client.subscribe('topo:__bus').catch(() => undefined));
  try {
    await client.connect();
    await waitFor(() => fake.commands.some((c) => c.connection === 0 && c.args[0]?.toUpperCase() === 'SUBSCRIBE'), {
      message: 'the first SUBSCRIBE',
    });
    fake.killAll();
    await waitFor(() => fake.commands.some((c) => c.connection === 2 && c.args[0]?.toUpperCase() === 'SUBSCRIBE'), {
      timeoutMs: 5_000,
      message: 'a SUBSCRIBE on the connection after the cut one',
    });
    await sleep(100);
  } finally {
    client.disconnect();
    await fake.close();
  }
  expect(escapes.escaped).toEqual([]);
});
