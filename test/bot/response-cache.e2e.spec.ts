import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CacheService } from 'nestjs-tiercache';
import { normalizeQuestion } from '../../apps/bot/src/responder/response-cache.service.js';
import { RedisServer } from '../harness/redis-server.js';
import { BotApp, delta } from './support/bot-app.js';
import { TestDatabase } from './support/test-database.js';
import { forum, textUpdate } from './support/updates.js';

const hit = 'bot_response_cache_total{result="hit"}';
const miss = 'bot_response_cache_total{result="miss"}';

describe('the bot response cache (Redis + PostgreSQL)', () => {
  let redis: RedisServer;
  let db: TestDatabase;
  let bot: BotApp;
  const ada = { id: 7001, first_name: 'Ada' };
  const group = forum(-100_700, 'Questions');

  beforeAll(async () => {
    redis = await RedisServer.start();
    db = await TestDatabase.create();
    bot = await BotApp.start({
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      CACHE_PREFIX: 'bot-rc',
      MESSAGE_PRICE: '0.01',
      INITIAL_BALANCE: '1.00',
    });
  });
  afterAll(async () => {
    await bot.close();
    await db.drop();
    await redis.stop();
  });

  it('normalizes questions: trimmed, case- and whitespace-insensitive', () => {
    expect(normalizeQuestion('  What   is\nTIERCACHE? ')).toBe('what is tiercache?');
    expect(normalizeQuestion('ＡＢＣ')).toBe('abc');
  });

  it('reuses an answer for the same question in the same context, still charges it and appends it to the history', async () => {
    const before = await bot.metrics();
    // Two topics opened with the same first question (same empty history): the second is a cache hit.
    const first = await bot.webhook(textUpdate(ada, { chat: group, topic: 11 }, 1, 'What is tiercache?')).expect(200);
    const second = await bot
      .webhook(textUpdate(ada, { chat: group, topic: 12 }, 2, '  what IS   tiercache? '))
      .expect(200);
    const after = await bot.metrics();
    expect(delta(before, after, miss)).toBe(1);
    expect(delta(before, after, hit)).toBe(1);
    expect(second.body.text).toBe(first.body.text);
    // Charged twice: 1.00 - 2 × 0.01.
    const rows = await db.query<{ balance: string }>('SELECT balance::text AS balance FROM users WHERE id = $1', [
      ada.id,
    ]);
    expect(Number(rows[0]?.balance)).toBeCloseTo(0.98, 10);
    const history = await db.query<{ role: string; text: string }>(
      `SELECT m.role, m.text FROM messages m JOIN threads t ON t.id = m.thread_id WHERE t.chat_id = $1 AND t.thread_id = 12 ORDER BY m.id`,
      [group.id],
    );
    expect(history.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(history[1]?.text).toBe(first.body.text);
  });

  it('a different context (history) or model is a different key; answers live 24 h under a fixed-length key', async () => {
    const before = await bot.metrics();
    // Same question in topic 11 again: the history now has 2 messages, so the context differs → miss.
    await bot.webhook(textUpdate(ada, { chat: group, topic: 11 }, 3, 'What is tiercache?')).expect(200);
    const after = await bot.metrics();
    expect(delta(before, after, miss)).toBe(1);
    expect(delta(before, after, hit)).toBe(0);
    const cache = bot.get(CacheService);
    const keys = (await redis.command('SCAN', '0', 'MATCH', 'bot-rc:response:*', 'COUNT', '1000')) as [
      string,
      string[],
    ];
    expect(keys[1].length).toBeGreaterThanOrEqual(2);
    for (const key of keys[1]) {
      expect(key).toMatch(/^bot-rc:response:[0-9a-f]{32}$/);
      const ttl = Number(await redis.command('PTTL', key));
      expect(ttl).toBeGreaterThan(23 * 3_600_000);
      expect(ttl).toBeLessThanOrEqual(24 * 3_600_000);
    }
    expect(cache.stats().namespaces.response?.hits).toBeGreaterThanOrEqual(1);
  });

  it('the model catalogue (price list) is warmed into the cache at boot, once per deploy', async () => {
    expect(await redis.command('EXISTS', 'bot-rc:catalogue:all')).toBe(1);
    expect(await redis.command('GET', 'bot-rc:__warm:ModelCatalogue#warm:default')).toEqual(expect.any(String));
    const res = await bot.webhook(textUpdate(ada, { chat: group, topic: 13 }, 4, '/model')).expect(200);
    expect(JSON.stringify(res.body)).toContain('model:reverse-1');
  });
});
