import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BotApp } from './support/bot-app.js';

/**
 * The zero-setup default: no DATABASE_URL and no REDIS_URL → embedded PostgreSQL (PGlite) in a file data directory
 * and the cache's memory backend, with the same SQL and migrations. A fresh PGlite takes seconds to initialise
 * (tens of seconds on a loaded 2-core machine), hence the long timeouts; one instance per test file.
 */
describe('bot zero-setup default (PGlite + memory cache)', () => {
  let dataDir: string;
  let bot: BotApp | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'bot-pglite-'));
  });

  afterAll(async () => {
    await bot?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers the sample update, keeps its data across a restart, and reports pglite + memory in /health', async () => {
    const env = { PGLITE_DATA_DIR: dataDir, FILES_LATENCY_MS: '0', LOG_LEVEL: 'warn' };
    const sample: object = JSON.parse(await readFile(new URL('../../samples/update.json', import.meta.url), 'utf8'));
    bot = await BotApp.start(env);
    const first = await bot.webhook(sample).expect(200);
    expect(first.body).toEqual({
      method: 'sendMessage',
      chat_id: 42,
      text: '[echo-1] "Hello, bot!"',
      reply_parameters: { message_id: 1, allow_sending_without_reply: true },
    });
    const health = await bot.http.get('/health').expect(200);
    expect(health.body).toMatchObject({
      status: 'ok',
      info: { database: { status: 'up', driver: 'pglite' }, cache: { status: 'up', backend: 'memory' } },
    });
    await bot.close();

    // Reopened: the migrations are not applied again, the user and the thread are still there.
    bot = await BotApp.start(env);
    await bot.webhook(sample).expect(200, '');
    const second = await bot
      .webhook({
        update_id: 100000002,
        message: { ...(sample as { message: object }).message, message_id: 2, text: '/balance' },
      })
      .expect(200);
    expect(second.body.text).toBe('Your balance is 0.95. A message costs 0.05.');
  }, 300_000);
});
