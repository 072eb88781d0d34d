import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CacheService } from 'nestjs-tiercache';
import type { ChatMessage } from '../../apps/bot/src/messages/chat-message.js';
import { historyDigest } from '../../apps/bot/src/responder/local.responder.js';
import { RedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { BotApp } from './support/bot-app.js';
import { BotProcess } from './support/bot-process.js';
import type { ProcessReply } from './support/bot-process.js';
import { TestDatabase } from './support/test-database.js';
import { checkThreadReplies, threadMessages, toChatMessage } from './support/thread-checker.js';
import type { TgUser } from './support/updates.js';
import {
  forum,
  paymentUpdate,
  preCheckoutUpdate,
  privateChat,
  textUpdate,
  topicCreatedUpdate,
} from './support/updates.js';

const SECRET = 'multi-webhook-secret';
const ADMIN = 'multi-admin-token';
const PREFIX = 'bot-multi';
const HISTORY_LIMIT = 6;
const MESSAGES = 1_100;
const IN_FLIGHT = 24;
const USERS: TgUser[] = Array.from({ length: 18 }, (_, i) => ({ id: 5_001 + i, first_name: `Multi${5_001 + i}` }));
const GROUP = forum(-100_5000, 'Instances');
const TOPICS = [1, 2, 3, 4];

/** xorshift32: the same workload in every run. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
}

/** One thing the workload does: a Telegram update (redelivered on failure, as Telegram does) or an admin call. */
type Step =
  | { kind: 'update'; body: object; key?: string }
  | { kind: 'admin'; method: 'GET' | 'POST'; path: string; body?: unknown }
  | { kind: 'flow'; run: (send: (step: Step) => Promise<ProcessReply>) => Promise<void> };

/**
 * Three bot processes on one real Redis and one real PostgreSQL, updates round-robin across them with many in
 * flight (so messages of one thread are handled by several instances at once), payments and top-ups interleaved;
 * one instance is SIGKILLed in the middle.
 */
describe('the bot as several instances (3 processes, Redis + PostgreSQL)', () => {
  let redis: RedisServer;
  let db: TestDatabase;
  let bots: BotProcess[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    [redis, db] = await Promise.all([RedisServer.start(), TestDatabase.create()]);
    env = {
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      CACHE_PREFIX: PREFIX,
      TELEGRAM_SECRET_TOKEN: SECRET,
      ADMIN_TOKEN: ADMIN,
      MESSAGE_PRICE: '0.02',
      INITIAL_BALANCE: '1.00',
      HISTORY_LIMIT: String(HISTORY_LIMIT),
      // The replies carry a digest of the history the responder saw: the checks recompute it from the database.
      RESPONDER_CONTEXT: 'true',
      FILES_LATENCY_MS: '0',
      DATABASE_POOL_SIZE: '4',
      PAYMENT_CURRENCY: 'USD',
      CACHE_COMMAND_TIMEOUT: '2s',
    };
    // The first one migrates; the other two start together.
    bots = [await BotProcess.start(env)];
    bots.push(...(await Promise.all([BotProcess.start(env), BotProcess.start(env)])));
  }, 180_000);

  afterAll(async () => {
    await Promise.all(bots.map((bot) => bot.kill()));
    await Promise.all([db?.drop(), redis?.stop()]);
  });

  let turn = 0;
  /** Sends a step round-robin to the live instances; an update that found a dead one goes to the next. */
  const send = async (step: Step): Promise<ProcessReply> => {
    if (step.kind === 'flow') throw new Error('flows are run, not sent');
    for (let attempt = 0; attempt < 6; attempt++) {
      const live = bots.filter((bot) => bot.alive);
      const bot = live[turn++ % live.length]!;
      const reply =
        step.kind === 'update'
          ? await bot.request('POST', '/telegram/webhook', { 'x-telegram-bot-api-secret-token': SECRET }, step.body)
          : await bot.request(step.method, step.path, { authorization: `Bearer ${ADMIN}` }, step.body);
      // An admin call that died with its instance is not repeated: its outcome is unknown (the ledger says).
      if (reply.status !== 0 || step.kind === 'admin') return reply;
    }
    throw new Error('no live instance answered');
  };

  const answered = new Map<string, string[]>();
  const statuses = new Map<number, number>();
  const run = async (steps: Step[], onProgress?: (done: number) => void): Promise<void> => {
    let cursor = 0;
    let done = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        for (let i = cursor++; i < steps.length; i = cursor++) {
          const step = steps[i]!;
          if (step.kind === 'flow') await step.run(send);
          else {
            const reply = await send(step);
            statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
            const text = reply.body?.['text'];
            if (step.kind === 'update' && step.key && typeof text === 'string' && text.startsWith('[echo-1]'))
              answered.set(step.key, [...(answered.get(step.key) ?? []), text]);
          }
          onProgress?.(++done);
        }
      }),
    );
  };

  it('keeps histories, balances, the ledger and /metrics exact over 1,100 messages, with an instance killed midway', async () => {
    const next = random(0x13);
    const messageIds = new Map<number, number>();
    const nextMessageId = (chatId: number): number => {
      const id = (messageIds.get(chatId) ?? 0) + 1;
      messageIds.set(chatId, id);
      return id;
    };
    const setup: Step[] = [
      ...USERS.map((user): Step => ({
        kind: 'update',
        body: textUpdate(user, { chat: privateChat(user) }, nextMessageId(user.id), '/start'),
      })),
      ...TOPICS.map((topic): Step => ({
        kind: 'update',
        body: topicCreatedUpdate(USERS[0]!, GROUP, topic, `Topic ${topic}`),
      })),
    ];
    for (const step of setup) await send(step);

    const steps: Step[] = [];
    let payments = 0;
    for (let n = 1; n <= MESSAGES; n++) {
      const user = USERS[Math.floor(next() * USERS.length)]!;
      // Half the messages go to four busy forum topics, the rest to the users' private chats.
      const topic = next() < 0.5 ? TOPICS[Math.floor(next() * TOPICS.length)]! : undefined;
      const chat = topic === undefined ? privateChat(user) : GROUP;
      const messageId = nextMessageId(chat.id);
      steps.push({
        kind: 'update',
        key: `${chat.id}:${messageId}`,
        body: textUpdate(user, { chat, ...(topic === undefined ? {} : { topic }) }, messageId, `m${n} from ${user.id}`),
      });
      if (n % 40 === 0)
        steps.push({ kind: 'admin', method: 'POST', path: `/admin/users/${user.id}/top-up`, body: { amount: '0.30' } });
      if (n % 90 === 0) {
        const payer = USERS[Math.floor(next() * USERS.length)]!;
        const chargeId = `multi-charge-${++payments}`;
        const topUpId = nextMessageId(payer.id);
        const paidId = nextMessageId(payer.id);
        steps.push({
          kind: 'flow',
          run: async (sendStep) => {
            const invoice = await sendStep({
              kind: 'update',
              body: textUpdate(payer, { chat: privateChat(payer) }, topUpId, '/topup 1'),
            });
            const payload = String(invoice.body?.['payload']);
            await sendStep({ kind: 'update', body: preCheckoutUpdate(payer, 100, payload) });
            const paid = paymentUpdate(payer, paidId, 100, chargeId, payload);
            // Delivered twice, to two instances: credited once.
            await sendStep({ kind: 'update', body: paid });
            await sendStep({ kind: 'update', body: paid });
          },
        });
      }
      if (n % 120 === 0)
        steps.push({
          kind: 'flow',
          run: async (sendStep) => {
            const ledger = await sendStep({ kind: 'admin', method: 'GET', path: `/admin/users/${user.id}/payments` });
            const rows = (ledger.body ?? []) as unknown as { id: number; kind: string; refundOf: number | null }[];
            const refunded = new Set(rows.map((p) => p.refundOf));
            const charge = rows.find((p) => p.kind === 'charge' && !refunded.has(p.id));
            if (charge)
              await sendStep({
                kind: 'admin',
                method: 'POST',
                path: `/admin/users/${user.id}/refund`,
                body: { chargeId: charge.id },
              });
          },
        });
      if (n % 75 === 0)
        steps.push({
          kind: 'update',
          body: textUpdate(user, { chat: privateChat(user) }, nextMessageId(user.id), '/stats'),
        });
    }
    const phaseA = steps.slice(0, Math.floor(steps.length / 2));
    const phaseB = steps.slice(phaseA.length);

    // Phase A: all three alive. Their /metrics add up to what the database and the test saw.
    const metricsBefore = await Promise.all(bots.map((bot) => bot.metrics()));
    const chargesBefore = await countCharges(db);
    await run(phaseA);
    const metricsA = await Promise.all(bots.map((bot) => bot.metrics()));
    const sum = (series: string, after: Map<string, number>[], before: Map<string, number>[]): number =>
      after.reduce((total, m, i) => total + (m.get(series) ?? 0) - (before[i]?.get(series) ?? 0), 0);
    const chargesA = (await countCharges(db)) - chargesBefore;
    expect(sum('bot_charges_total', metricsA, metricsBefore)).toBe(chargesA);
    const sentA = phaseA.filter((s) => s.kind === 'update' && s.key !== undefined).length;
    expect(sum('bot_replies_total{method="sendMessage",outcome="answered"}', metricsA, metricsBefore)).toBe(chargesA);
    expect(sum('bot_updates_total{type="message"}', metricsA, metricsBefore)).toBeGreaterThanOrEqual(sentA);
    // Every instance served its share (round robin).
    for (const [i, m] of metricsA.entries())
      expect((m.get('bot_charges_total') ?? 0) - (metricsBefore[i]?.get('bot_charges_total') ?? 0)).toBeGreaterThan(
        chargesA / 6,
      );

    // Phase B: one instance is SIGKILLed a quarter of the way in, with requests in flight.
    const victim = bots[2]!;
    let killed: Promise<void> | undefined;
    await run(phaseB, (done) => {
      if (done === Math.floor(phaseB.length / 4)) killed = victim.kill();
    });
    await killed;
    expect(victim.alive).toBe(false);
    expect(statuses.get(500)).toBeUndefined();
    expect(statuses.get(0) ?? 0).toBeLessThan(10);

    // No update answered twice; every answer the test got is stored and charged once.
    for (const [key, texts] of answered) expect([key, texts.length]).toEqual([key, 1]);
    const stored = await db.query<{ chat_id: number; tg: number; charges: number }>(
      `SELECT t.chat_id, m.tg_message_id AS tg, (SELECT count(*) FROM payments p WHERE p.message_id = m.id AND p.kind = 'charge')::int8 AS charges
         FROM messages m JOIN threads t ON t.id = m.thread_id WHERE m.role = 'user'`,
    );
    const storedKeys = new Set(stored.map((r) => `${r.chat_id}:${r.tg}`));
    for (const key of answered.keys()) expect(storedKeys.has(key)).toBe(true);
    expect(stored.filter((r) => r.charges !== 1)).toEqual([]);
    expect(await countCharges(db)).toBe(stored.length);
    expect(stored.length).toBeGreaterThan(MESSAGES * 0.8);

    // Every balance equals the initial balance plus the ledger.
    const mismatched = await db.query(
      `SELECT u.id, u.balance, 1.00 + coalesce(sum(CASE WHEN p.kind = 'charge' THEN -p.amount ELSE p.amount END), 0) AS ledger
         FROM users u LEFT JOIN payments p ON p.user_id = u.id GROUP BY u.id, u.balance
       HAVING u.balance <> 1.00 + coalesce(sum(CASE WHEN p.kind = 'charge' THEN -p.amount ELSE p.amount END), 0)`,
    );
    expect(mismatched).toEqual([]);
    const credited = await db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM payments WHERE kind = 'payment'");
    expect(credited[0]!.n).toBe(payments);

    // Per-thread order held across instances: every stored answer is what the responder gives for exactly the
    // messages stored before it in its thread; and every reply the test got is that answer.
    const names = new Map(USERS.map((u) => [u.id, { firstName: u.first_name }]));
    const threads = await db.query<{ id: number; chat_id: number; title: string }>(
      'SELECT id, chat_id, title FROM threads ORDER BY id',
    );
    let exchanges = 0;
    for (const thread of threads)
      exchanges += await checkThreadReplies({
        db,
        threadId: thread.id,
        title: thread.title,
        historyLimit: HISTORY_LIMIT,
        users: names,
      });
    const answers = await db.query<{ chat_id: number; tg: number; answer: string }>(
      `SELECT t.chat_id, q.tg_message_id AS tg,
              (SELECT a.text FROM messages a WHERE a.thread_id = q.thread_id AND a.id > q.id ORDER BY a.id LIMIT 1) AS answer
         FROM messages q JOIN threads t ON t.id = q.thread_id WHERE q.role = 'user'`,
    );
    const storedAnswer = new Map(answers.map((r) => [`${r.chat_id}:${r.tg}`, r.answer]));
    for (const [key, texts] of answered) expect([key, texts[0]]).toEqual([key, storedAnswer.get(key)]);
    expect(exchanges).toBe(stored.length);

    // Every cached history equals the database's, read through the library by a fourth instance.
    const reader = await BotApp.start(env);
    try {
      const cache = reader.get(CacheService);
      await waitFor(
        () => {
          const stats = cache.stats();
          return stats.redisConnected === true && stats.breaker === 'closed' && stats.pendingInvalidations === 0;
        },
        { timeoutMs: 10_000, message: 'the reader to reach Redis' },
      );
      let cached = 0;
      for (const thread of threads) {
        const list = await cache.getList<ChatMessage>('messages', thread.id);
        if (list === undefined) continue;
        cached++;
        const rows = (await threadMessages(db, thread.id)).slice(-HISTORY_LIMIT).map(toChatMessage);
        expect([thread.id, list]).toEqual([thread.id, rows]);
      }
      expect(cached).toBeGreaterThan(threads.length / 2);
    } finally {
      await reader.close();
    }
  }, 300_000);

  it("a change made on one instance reaches the others' memory tiers (invalidated over Redis)", async () => {
    const user: TgUser = { id: 5_951, first_name: 'Switcher' };
    const chat = privateChat(user);
    const [a, b] = bots.filter((bot) => bot.alive) as [BotProcess, BotProcess];
    const hook = { 'x-telegram-bot-api-secret-token': SECRET };
    let messageId = 0;
    const ask = async (bot: BotProcess, text: string): Promise<string> =>
      String(
        (await bot.request('POST', '/telegram/webhook', hook, textUpdate(user, { chat }, ++messageId, text))).body?.[
          'text'
        ],
      );
    // Both instances read the user, so both hold it in their memory tier.
    expect(await ask(a, '/balance')).toBe('Your balance is 1.00. A message costs 0.02.');
    expect(await ask(b, '/balance')).toBe('Your balance is 1.00. A message costs 0.02.');
    expect(await ask(a, '/model upper-1')).toBe('Model set to upper-1.');
    await waitFor(async () => (await ask(b, '/model')).startsWith('Your model is upper-1.'), {
      timeoutMs: 10_000,
      message: 'the other instance to see the new model',
    });
    const topUp = await a.request(
      'POST',
      `/admin/users/${user.id}/top-up`,
      { authorization: `Bearer ${ADMIN}` },
      { amount: '2' },
    );
    expect(topUp.status).toBe(200);
    await waitFor(async () => (await ask(b, '/balance')) === 'Your balance is 3.00. A message costs 0.02.', {
      timeoutMs: 10_000,
      message: 'the other instance to see the top-up',
    });
    // /stats lives in Redis only: right after the top-up, on any instance.
    expect(await ask(b, '/stats')).toMatch(/: 0 messages, spent 0\.00\. Your balance is 3\.00\.$/);
  });

  it('repairs a cached history that missed an append (an instance died between its commit and its cache update)', async () => {
    const user: TgUser = { id: 5_901, first_name: 'Survivor' };
    const chat = privateChat(user);
    const live = bots.filter((bot) => bot.alive);
    const hook = { 'x-telegram-bot-api-secret-token': SECRET };
    for (const [i, text] of ['one', 'two'].entries())
      expect(
        (await live[0]!.request('POST', '/telegram/webhook', hook, textUpdate(user, { chat }, i + 1, text))).status,
      ).toBe(200);
    const threadId = (await db.query<{ id: number }>('SELECT id FROM threads WHERE chat_id = $1', [user.id]))[0]!.id;
    // What a killed instance leaves behind: its exchange committed, its append to the cached history never made.
    await db.query(
      "INSERT INTO messages (thread_id, user_id, role, tg_message_id, text, date) VALUES ($1, $2, 'user', 3, 'lost question', now())",
      [threadId, user.id],
    );
    await db.query(
      "INSERT INTO messages (thread_id, role, text, date) VALUES ($1, 'assistant', 'lost answer', now())",
      [threadId],
    );
    const reply = await live[1]!.request('POST', '/telegram/webhook', hook, textUpdate(user, { chat }, 4, 'three'));
    const rows = (await threadMessages(db, threadId)).map(toChatMessage);
    expect(rows.map((m) => m.text).slice(0, 6)).toEqual([
      'one',
      expect.any(String),
      'two',
      expect.any(String),
      'lost question',
      'lost answer',
    ]);
    // The answer was built on the database's history (6 earlier messages), not the cached one (4).
    expect(reply.body?.['text']).toBe(
      `[echo-1] Survivor: "three"\ncontext: 6 earlier messages #${historyDigest(rows.slice(0, 6))}`,
    );
    const reader = await BotApp.start(env);
    try {
      const cache = reader.get(CacheService);
      await waitFor(() => cache.stats().redisConnected === true, {
        timeoutMs: 10_000,
        message: 'the reader to reach Redis',
      });
      expect(await cache.getList<ChatMessage>('messages', threadId)).toEqual(rows.slice(-HISTORY_LIMIT));
    } finally {
      await reader.close();
    }
  }, 60_000);
});

async function countCharges(db: TestDatabase): Promise<number> {
  return (await db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM payments WHERE kind = 'charge'"))[0]!.n;
}
