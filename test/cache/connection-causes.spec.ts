// Failures say why (issue "Redis Cluster as a first-class engine", items 4 and 6): a wrong password and a plain
// connection to a closed port log their cause at warn level, once, without the password; a clean app.close() logs no
// "connection lost".
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { CacheService } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { freePort } from '../harness/free-port.js';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { bootApp, CollectingLogger } from '../drills/support/faults.js';

jest.setTimeout(30_000);

const PASSWORD = 'correct-horse-battery';
let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start({ password: PASSWORD });
});
afterAll(() => redis?.stop());

async function boot(options: CacheModuleOptions): Promise<{ close: () => Promise<void>; lines: string[] }> {
  const logger = new CollectingLogger();
  const app = await bootApp(options, { logger });
  // The cache answers from the source whatever the cause.
  expect(await app.get(CacheService).getOrSet('ns', 'k', () => 'source')).toBe('source');
  return {
    close: () => app.close(),
    get lines() {
      return logger.lines.map((l) => `${l.level} ${l.text}`);
    },
  };
}

describe('connection failures name their cause at warn level, without secrets', () => {
  it('a wrong password: WRONGPASS, readable, the password nowhere', async () => {
    const { close, lines } = await boot({
      prefix: 'cause',
      redis: { host: '127.0.0.1', port: redis.port, password: 'wrong-password-123' },
    });
    await waitFor(() => lines.some((l) => l.startsWith('warn') && /WRONGPASS/.test(l)), {
      message: 'the cause',
      timeoutMs: 10_000,
    }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; logged: ${JSON.stringify(lines)}`);
    });
    expect(lines.find((l) => /WRONGPASS/.test(l))).toMatch(/username-password pair/);
    await close();
    for (const line of lines) {
      expect(line).not.toContain('wrong-password-123');
      expect(line).not.toContain(PASSWORD);
    }
  });

  it('a closed port: ECONNREFUSED at warn level', async () => {
    const port = await freePort('127.0.0.1');
    const { close, lines } = await boot({ prefix: 'cause', redis: { host: '127.0.0.1', port } });
    await waitFor(() => lines.some((l) => l.startsWith('warn') && /ECONNREFUSED/.test(l)), { message: 'the cause' });
    const causes = lines.filter((l) => /ECONNREFUSED/.test(l) && l.startsWith('warn'));
    // Said once per interval, not once per reconnect attempt.
    expect(causes.length).toBeLessThanOrEqual(3);
    await close();
  });

  it('a clean close says nothing about a lost connection', async () => {
    const { close, lines } = await boot({ prefix: 'cause', redis: `redis://:${PASSWORD}@127.0.0.1:${redis.port}` });
    await close();
    expect(lines.filter((l) => /connection lost|timed out after 0 ms/.test(l))).toEqual([]);
  });
});
