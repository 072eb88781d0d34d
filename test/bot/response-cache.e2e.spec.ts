import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CacheService } from 'nestjs-tiercache';
import { LocalResponder } from '../../apps/bot/src/responder/local.responder.js';
import { normalizeQuestion, responseKey } from '../../apps/bot/src/responder/response-cache.service.js';
import type { ResponderContext } from '../../apps/bot/src/responder/responder.js';
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
  const bob = { id: 7002, first_name: 'Bob' };
  const cs = { id: 7003, first_name: 'Jana', language_code: 'cs' };
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

  const ask = async (
    user: { id: number; first_name: string; language_code?: string },
    topic: number,
    messageId: number,
    text: string,
  ): Promise<string> => {
    const update = textUpdate(user, { chat: group, topic }, messageId, text);
    if (user.language_code !== undefined) Object.assign(update.message.from, { language_code: user.language_code });
    return ((await bot.webhook(update).expect(200)).body as { text: string }).text;
  };

  it('keys on the normalized question and the settings: a repeat in the same chat, in other case or spacing, is a hit; still charged and stored', async () => {
    const before = await bot.metrics();
    const first = await ask(ada, 11, 1, 'What is tiercache?');
    // The same chat, its history now longer: still a hit (the answer does not depend on the conversation).
    const again = await ask(ada, 11, 2, '  what IS   tiercache? ');
    // Another chat, another user with the same settings: a hit too.
    const elsewhere = await ask(bob, 12, 3, 'WHAT IS TIERCACHE?');
    const after = await bot.metrics();
    expect(delta(before, after, miss)).toBe(1);
    expect(delta(before, after, hit)).toBe(2);
    expect(first).toBe('[echo-1] "What is tiercache?"');
    expect(again).toBe(first);
    expect(elsewhere).toBe(first);
    // Charged every time: 1.00 - 2 × 0.01.
    const rows = await db.query<{ balance: string }>('SELECT balance::text AS balance FROM users WHERE id = $1', [
      ada.id,
    ]);
    expect(rows[0]?.balance).toBe('0.9800');
    const history = await db.query<{ role: string; text: string }>(
      `SELECT m.role, m.text FROM messages m JOIN threads t ON t.id = m.thread_id WHERE t.chat_id = $1 AND t.thread_id = 11 ORDER BY m.id`,
      [group.id],
    );
    expect(history.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(history[3]?.text).toBe(first);
  });

  it('another model or language is another key; answers live 24 h under a fixed-length key', async () => {
    const before = await bot.metrics();
    await bot.webhook(textUpdate(ada, { chat: group, topic: 13 }, 4, '/model upper-1')).expect(200);
    expect(await ask(ada, 13, 5, 'what is tiercache?')).toBe('[upper-1] "WHAT IS TIERCACHE?"');
    expect(await ask(cs, 13, 6, 'what is tiercache?')).toBe('[echo-1] "what is tiercache?"');
    const after = await bot.metrics();
    expect(delta(before, after, miss)).toBe(2);
    expect(delta(before, after, hit)).toBe(0);
    const cache = bot.get(CacheService);
    const keys = (await redis.command('SCAN', '0', 'MATCH', 'bot-rc:response:*', 'COUNT', '1000')) as [
      string,
      string[],
    ];
    expect(keys[1]).toHaveLength(3);
    for (const key of keys[1]) {
      expect(key).toMatch(/^bot-rc:response:[0-9a-f]{32}$/);
      const ttl = Number(await redis.command('PTTL', key));
      expect(ttl).toBeGreaterThan(23 * 3_600_000);
      expect(ttl).toBeLessThanOrEqual(24 * 3_600_000);
    }
    expect(cache.stats().namespaces.response?.hits).toBeGreaterThanOrEqual(2);
  });

  it('a responder whose answers depend on the conversation keys on it (responder-level option)', () => {
    const base: ResponderContext = {
      user: { id: 1, firstName: 'Ada', modelId: 'echo-1', languageCode: 'en' },
      thread: { id: 1, title: 't' },
      history: [],
      message: { text: 'Hi', attachmentCount: 0 },
      files: [],
    };
    const later: ResponderContext = {
      ...base,
      history: [{ id: 1, role: 'user', text: 'earlier', attachments: [], date: 0 }],
    };
    const spaced: ResponderContext = { ...base, message: { text: '  HI ', attachmentCount: 0 } };
    expect(new LocalResponder().cacheScope).toBe('question');
    expect(new LocalResponder({ context: true }).cacheScope).toBe('conversation');
    expect(responseKey(later, 'question')).toBe(responseKey(base, 'question'));
    expect(responseKey(spaced, 'question')).toBe(responseKey(base, 'question'));
    expect(responseKey(later, 'conversation')).not.toBe(responseKey(base, 'conversation'));
    expect(responseKey(spaced, 'conversation')).toBe(responseKey(base, 'conversation'));
    const french = { ...base, user: { ...base.user, languageCode: 'fr' } };
    expect(responseKey(french, 'question')).not.toBe(responseKey(base, 'question'));
  });

  it('the model catalogue (price list) is warmed into the cache at boot, once per deploy', async () => {
    expect(await redis.command('EXISTS', 'bot-rc:catalogue:all')).toBe(1);
    expect(await redis.command('GET', 'bot-rc:__warm:ModelCatalogue#warm:default')).toEqual(expect.any(String));
    const res = await bot.webhook(textUpdate(ada, { chat: group, topic: 13 }, 7, '/model')).expect(200);
    expect(JSON.stringify(res.body)).toContain('model:reverse-1');
  });
});
