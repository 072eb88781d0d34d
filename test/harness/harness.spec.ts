import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';
import { redisCommand } from './redis-command.js';
import { RedisServer } from './redis-server.js';
import { TcpProxy } from './tcp-proxy.js';
import { waitFor } from './wait-for.js';

/** Resolves with the error code of a TCP connect to 127.0.0.1:port, or 'connected'. */
function probe(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** `CONFIG GET name` through `call()`, which answers a flat [name, value] list. */
async function configGet(redis: RedisServer, name: string): Promise<string | undefined> {
  const reply = await redis.command('CONFIG', 'GET', name);
  return Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

describe('waitFor', () => {
  it('resolves once the predicate holds and names what it awaited on timeout', async () => {
    let calls = 0;
    await waitFor(() => ++calls >= 3, { intervalMs: 1 });
    expect(calls).toBe(3);
    await expect(waitFor(() => false, { timeoutMs: 50, message: 'the impossible' })).rejects.toThrow(
      /timed out after 50 ms waiting for the impossible/,
    );
    await expect(
      waitFor(
        () => {
          throw new Error('boom');
        },
        { timeoutMs: 30 },
      ),
    ).rejects.toThrow(/last error: boom/);
  });
});

describe('freePort', () => {
  it('returns a port nobody listens on', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    expect(await probe(port)).toBe('ECONNREFUSED');
    // Below the ephemeral range: no outgoing connection can take it before the caller binds it.
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    expect(port).toBeLessThan(low ?? 32_768);
  });
});

describe('RedisServer', () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterAll(async () => {
    await redis.stop();
  });

  it('starts on a loopback port and answers commands', async () => {
    expect(redis.host).toBe('127.0.0.1');
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(await redis.command('PING')).toBe('PONG');
    await redis.command('SET', 'harness:k', 42);
    expect(await redis.command('GET', 'harness:k')).toBe('42');
    expect(await configGet(redis, 'save')).toBe('');
    expect(await configGet(redis, 'appendonly')).toBe('no');
  });

  it('kill is idempotent, restart comes back on the same port without data', async () => {
    const port = redis.port;
    await redis.command('SET', 'harness:gone', 1);
    await Promise.all([redis.kill(), redis.kill()]);
    await redis.kill();
    expect(redis.isRunning).toBe(false);
    expect(await probe(port)).toBe('ECONNREFUSED');
    await expect(redis.commandWith({ timeoutMs: 500 }, 'PING')).rejects.toThrow(/failed/);

    await redis.restart();
    expect(redis.port).toBe(port);
    expect(await redis.command('PING')).toBe('PONG');
    expect(await redis.command('EXISTS', 'harness:gone')).toBe(0);
  });

  it('freeze makes commands time out, thaw brings them back', async () => {
    redis.freeze();
    expect(redis.isFrozen).toBe(true);
    const started = performance.now();
    await expect(redis.commandWith({ timeoutMs: 200 }, 'PING')).rejects.toThrow(/timed out after/);
    expect(performance.now() - started).toBeLessThan(1000);

    redis.thaw();
    expect(redis.isFrozen).toBe(false);
    expect(await redis.command('PING')).toBe('PONG');
  });

  it('kills a frozen server', async () => {
    redis.freeze();
    await redis.kill();
    expect(redis.isRunning).toBe(false);
    await redis.restart();
    expect(await redis.command('PING')).toBe('PONG');
  });

  it('injects faults with DEBUG SLEEP', async () => {
    const sleeping = redis.command('DEBUG', 'SLEEP', 0.8);
    // The DEBUG client connects on its own: wait until the server is really asleep (a PING times out), not a fixed delay.
    await waitFor(
      async () => {
        try {
          await redis.commandWith({ timeoutMs: 150 }, 'PING');
          return false;
        } catch (err) {
          return /timed out after/.test((err as Error).message);
        }
      },
      { timeoutMs: 700, message: 'a PING to time out while the server sleeps' },
    );
    await sleeping;
    expect(await redis.command('PING')).toBe('PONG');
  });
});

describe('RedisServer with a password', () => {
  it('authenticates its own commands and rejects a wrong password', async () => {
    const redis = await RedisServer.start({ password: 'harness-secret', args: ['--maxmemory', '10mb'] });
    try {
      expect(await redis.command('PING')).toBe('PONG');
      expect(await configGet(redis, 'maxmemory')).toBe(String(10 * 1024 * 1024));
      await expect(redis.commandWith({ password: 'wrong' }, 'PING')).rejects.toThrow(/WRONGPASS|invalid/i);
    } finally {
      await redis.stop();
    }
  });
});

describe('RedisServer cleanup', () => {
  it('frees the port, ends the process and removes its temp dir on stop', async () => {
    const redis = await RedisServer.start();
    const pid = redis.pid;
    const dir = (await configGet(redis, 'dir')) ?? 'unknown';
    expect(dir).toContain('tiercache-redis-');
    expect(existsSync(dir)).toBe(true);
    await redis.stop();
    await redis.stop();
    expect(pid !== undefined && isAlive(pid)).toBe(false);
    expect(await probe(redis.port)).toBe('ECONNREFUSED');
    expect(existsSync(dir)).toBe(false);
    await expect(redis.restart()).rejects.toThrow(/stopped/);
  });

  it('fails fast with the server output when redis-server cannot start', async () => {
    await expect(RedisServer.start({ args: ['--no-such-option', 'x'] })).rejects.toThrow(
      /exited .* before answering PING[\s\S]*output tail[\s\S]*no-such-option/,
    );
  });
});

describe('TcpProxy', () => {
  let redis: RedisServer;
  let proxy: TcpProxy;

  beforeAll(async () => {
    redis = await RedisServer.start();
    proxy = await TcpProxy.start(redis.port);
  });

  afterAll(async () => {
    await proxy.close();
    await redis.stop();
  });

  it('passes traffic through', async () => {
    expect(await redisCommand(proxy.port, ['SET', 'proxied', 'yes'])).toBe('OK');
    expect(await redis.command('GET', 'proxied')).toBe('yes');
  });

  it('delay adds latency to each chunk', async () => {
    const client = new Redis({
      port: proxy.port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      disconnectTimeout: 0,
    });
    client.on('error', (error: Error) => {
      proxy.lastError = error;
    });
    try {
      await client.connect();
      proxy.delay(100);
      const started = performance.now();
      expect(await client.ping()).toBe('PONG');
      expect(performance.now() - started).toBeGreaterThanOrEqual(100);
    } finally {
      proxy.restore();
      client.disconnect();
    }
  });

  it('blackhole makes commands time out, restore brings them back', async () => {
    proxy.blackhole();
    const started = performance.now();
    await expect(redisCommand(proxy.port, ['PING'], { timeoutMs: 200 })).rejects.toThrow(/timed out after 200 ms/);
    expect(performance.now() - started).toBeLessThan(1000);
    proxy.restore();
    expect(await redisCommand(proxy.port, ['PING'], { timeoutMs: 1000 })).toBe('PONG');
  });

  it('drop resets open and new connections until restore', async () => {
    const client = new Redis({
      port: proxy.port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      disconnectTimeout: 0,
    });
    client.on('error', (error: Error) => {
      proxy.lastError = error;
    });
    try {
      await client.connect();
      expect(await client.ping()).toBe('PONG');
      proxy.drop();
      await waitFor(() => client.status === 'end', { timeoutMs: 1000, message: 'the proxied client to be cut' });
      await expect(redisCommand(proxy.port, ['PING'], { timeoutMs: 500 })).rejects.toThrow(/failed/);
      proxy.restore();
      expect(await redisCommand(proxy.port, ['PING'])).toBe('PONG');
    } finally {
      proxy.restore();
      client.disconnect();
    }
  });
});
