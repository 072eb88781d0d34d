import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CacheService } from 'nestjs-tiercache';
import { TelegramFilesClient, fileBytes } from '../../apps/bot/src/files/telegram-files.client.js';
import type { ChatMessage } from '../../apps/bot/src/messages/chat-message.js';
import { historyDigest } from '../../apps/bot/src/responder/local.responder.js';
import type { Thread } from '../../apps/bot/src/threads/thread.js';
import type { User } from '../../apps/bot/src/users/user.js';
import { RedisServer } from '../harness/redis-server.js';
import { BotApp, delta, deltaAll } from './support/bot-app.js';
import { TestDatabase } from './support/test-database.js';
import { checkThreadReplies, threadMessages, toChatMessage } from './support/thread-checker.js';
import type { TgUser } from './support/updates.js';
import {
  callbackUpdate,
  documentUpdate,
  editedUpdate,
  forum,
  paymentUpdate,
  photoUpdate,
  pollUpdate,
  preCheckoutUpdate,
  privateChat,
  stickerUpdate,
  textUpdate,
  topicCreatedUpdate,
  voiceUpdate,
} from './support/updates.js';

const SECRET = 'webhook-secret-1';
const ADMIN = 'admin-token-1234';
const HISTORY_LIMIT = 6;
const PRICE = '0.05';

interface Reply {
  method?: string;
  chat_id?: number;
  message_thread_id?: number;
  text?: string;
  reply_parameters?: { message_id: number };
}

/** End to end on real Redis (a private redis-server) and a real PostgreSQL database of its own. */
describe('bot e2e (Redis + PostgreSQL)', () => {
  let redis: RedisServer;
  let db: TestDatabase;
  let bot: BotApp;
  let cache: CacheService;

  beforeAll(async () => {
    [redis, db] = await Promise.all([RedisServer.start(), TestDatabase.create()]);
    bot = await BotApp.start({
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      CACHE_PREFIX: 'bot-e2e',
      MESSAGE_PRICE: PRICE,
      INITIAL_BALANCE: '1.00',
      HISTORY_LIMIT: String(HISTORY_LIMIT),
      FILES_LATENCY_MS: '2',
      // Writing a 20 MiB file to Redis takes ~150 ms idle; leave room for a loaded CI machine.
      CACHE_COMMAND_TIMEOUT: '5s',
      FILES_BANDWIDTH_BYTES_PER_SEC: String(10 * 1024 ** 3),
      TELEGRAM_SECRET_TOKEN: SECRET,
      ADMIN_TOKEN: ADMIN,
      PAYMENT_CURRENCY: 'USD',
      // The replies show the history and files the responder saw, so the checks below can verify them.
      RESPONDER_CONTEXT: 'true',
      LOG_LEVEL: 'warn',
    });
    cache = bot.get(CacheService);
  }, 60_000);

  afterAll(async () => {
    await bot?.close();
    await Promise.all([db?.drop(), redis?.stop()]);
  });

  const send = async (update: object): Promise<Reply> => (await bot.webhook(update, SECRET).expect(200)).body as Reply;
  const balanceOf = async (userId: number): Promise<string | undefined> =>
    (await db.query<{ balance: string }>('SELECT balance FROM users WHERE id = $1', [userId]))[0]?.balance;
  const threadIdOf = async (chatId: number, topic = 0): Promise<number> =>
    (
      await db.query<{ id: number }>('SELECT id FROM threads WHERE chat_id = $1 AND thread_id = $2', [chatId, topic])
    )[0]!.id;
  const topUp = (userId: number, amount: string) =>
    bot.http.post(`/admin/users/${userId}/top-up`).set('authorization', `Bearer ${ADMIN}`).send({ amount }).expect(200);

  it('answers 270 messages from 5 users in 5 private chats and 3 forum topics: exact balances, ledger, histories and replies', async () => {
    const users: TgUser[] = [101, 102, 103, 104, 105].map((id) => ({
      id,
      first_name: `User${id}`,
      username: `user${id}`,
    }));
    const names = new Map(users.map((u) => [u.id, { firstName: u.first_name }]));
    const group = forum(-100_777, 'Forum');
    const topics = [11, 12, 13];
    for (const topic of topics)
      expect(await send(topicCreatedUpdate(users[0]!, group, topic, `Topic ${topic}`))).toEqual({});
    for (const user of users)
      expect((await send(textUpdate(user, { chat: privateChat(user) }, 1_000, '/start'))).text).toMatch(
        /^Hi User1\d\d! .* your balance is 1\.00\./,
      );
    // Users 101-104 can afford 70 messages (1.00 + 2.50) and send 60; user 105 can afford 20 and sends 30.
    for (const user of users.slice(0, 4)) await topUp(user.id, '2.50');

    type Send = { user: TgUser; chatId: number; topic: number | undefined; messageId: number; text: string };
    const lanes: Send[][] = [];
    const perUser = new Map(
      users.map((u) => [u.id, u.id === 105 ? { priv: 18, perTopic: 4 } : { priv: 36, perTopic: 8 }]),
    );
    for (const user of users) {
      const lane: Send[] = [];
      for (let i = 1; i <= perUser.get(user.id)!.priv; i++)
        lane.push({ user, chatId: user.id, topic: undefined, messageId: i, text: `private ${i} from ${user.id}` });
      lanes.push(lane);
    }
    let forumMessageId = 100;
    for (const topic of topics) {
      const lane: Send[] = [];
      for (let round = 1; round <= 8; round++) {
        for (const user of users) {
          if (round <= perUser.get(user.id)!.perTopic)
            lane.push({
              user,
              chatId: group.id,
              topic,
              messageId: ++forumMessageId,
              text: `topic ${topic} round ${round} from ${user.id}`,
            });
        }
      }
      lanes.push(lane);
    }
    expect(lanes.flat()).toHaveLength(270);

    const before = await bot.metrics();
    const replies = new Map<string, Reply>();
    await Promise.all(
      lanes.map(async (lane) => {
        for (const s of lane) {
          const chat = s.topic === undefined ? privateChat(s.user) : group;
          const reply = await send(
            textUpdate(s.user, { chat, ...(s.topic !== undefined ? { topic: s.topic } : {}) }, s.messageId, s.text),
          );
          replies.set(`${s.chatId}:${s.messageId}`, reply);
        }
      }),
    );
    const after = await bot.metrics();

    // Every update got a sendMessage in its chat and topic, replying to it.
    const answered = new Map<number, number>();
    const refused = new Map<number, number>();
    for (const s of lanes.flat()) {
      const reply = replies.get(`${s.chatId}:${s.messageId}`)!;
      expect(reply).toMatchObject({
        method: 'sendMessage',
        chat_id: s.chatId,
        reply_parameters: { message_id: s.messageId },
      });
      expect(reply.message_thread_id).toBe(s.topic);
      const bucket = reply.text!.startsWith('Sorry,') ? refused : answered;
      bucket.set(s.user.id, (bucket.get(s.user.id) ?? 0) + 1);
      if (bucket === refused)
        expect(reply.text).toBe(
          `Sorry, User${s.user.id}, your balance (0.00) does not cover a message (0.05). Please top up to continue; you have not been charged.`,
        );
    }
    expect(Object.fromEntries(answered)).toEqual({ 101: 60, 102: 60, 103: 60, 104: 60, 105: 20 });
    expect(Object.fromEntries(refused)).toEqual({ 105: 10 });
    expect(delta(before, after, 'bot_replies_total{method="sendMessage",outcome="answered"}')).toBe(260);
    expect(delta(before, after, 'bot_replies_total{method="sendMessage",outcome="refused"}')).toBe(10);
    expect(delta(before, after, 'bot_charges_total')).toBe(260);
    expect(delta(before, after, 'bot_charged_amount_total')).toBeCloseTo(13, 6);

    // Balances and the ledger, exactly.
    for (const user of users) {
      const expected = user.id === 105 ? '0.0000' : '0.5000';
      expect(await balanceOf(user.id)).toBe(expected);
      const ledger = await db.query<{ kind: string; n: number; total: string }>(
        'SELECT kind, count(*)::int8 AS n, sum(amount) AS total FROM payments WHERE user_id = $1 GROUP BY kind ORDER BY kind',
        [user.id],
      );
      const charges = answered.get(user.id)!;
      expect(ledger).toEqual([
        { kind: 'charge', n: charges, total: (charges * 0.05).toFixed(4) },
        ...(user.id === 105 ? [] : [{ kind: 'topup', n: 1, total: '2.5000' }]),
      ]);
      // Each charge's balance_after is the previous one minus the price: no lost or doubled charge under concurrency.
      const afters = await db.query<{ balance_after: string }>(
        "SELECT balance_after FROM payments WHERE user_id = $1 AND kind = 'charge' ORDER BY id",
        [user.id],
      );
      afters.forEach((row, i) =>
        expect(row.balance_after).toBe(((user.id === 105 ? 1 : 3.5) - 0.05 * (i + 1)).toFixed(4)),
      );
      // The cached user (updated in place after every charge) agrees with PostgreSQL.
      const cached = await cache.get<User>('user', user.id);
      expect(cached).toMatchObject({ id: user.id, balance: expected });
    }

    // Histories and replies: every stored answer (and the webhook's reply) is what the responder gives for exactly
    // the HISTORY_LIMIT stored messages before the question; the cached history equals the stored tail.
    let exchanges = 0;
    const threads: { chatId: number; topic: number; title: string }[] = [
      ...users.map((u) => ({ chatId: u.id, topic: 0, title: `Chat with ${u.first_name}` })),
      ...topics.map((topic) => ({ chatId: group.id, topic, title: `Topic ${topic}` })),
    ];
    for (const t of threads) {
      const threadId = await threadIdOf(t.chatId, t.topic);
      const texts = new Map<number, string>();
      for (const [key, reply] of replies)
        if (key.startsWith(`${t.chatId}:`)) texts.set(Number(key.split(':')[1]), reply.text!);
      exchanges += await checkThreadReplies({
        db,
        threadId,
        title: t.title,
        historyLimit: HISTORY_LIMIT,
        users: names,
        replies: texts,
      });
      const stored = (await threadMessages(db, threadId)).map(toChatMessage);
      expect(await cache.getList<ChatMessage>('messages', threadId)).toEqual(stored.slice(-HISTORY_LIMIT));
    }
    expect(exchanges).toBe(260);
    expect((await db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM messages'))[0]!.n).toBeGreaterThanOrEqual(
      520,
    );
  }, 120_000);

  it('serves a warm conversation with 0 database reads and 1 write per message (+ the thread lock across instances)', async () => {
    const users: TgUser[] = [201, 202, 203, 204, 205].map((id) => ({ id, first_name: `Warm${id}` }));
    for (const u of users) await send(textUpdate(u, { chat: privateChat(u) }, 1, 'warm up'));
    const before = await bot.metrics();
    await Promise.all(
      users.map(async (u) => {
        for (let i = 2; i <= 11; i++)
          expect((await send(textUpdate(u, { chat: privateChat(u) }, i, `steady ${i}`))).text).toMatch(
            /^\[echo-1\] Warm/,
          );
      }),
    );
    const after = await bot.metrics();
    expect(delta(before, after, 'bot_db_queries_total{kind="select"}')).toBe(0);
    expect(delta(before, after, 'bot_db_queries_total{kind="write"}')).toBe(50);
    // The thread's advisory lock (taken and given back on a connection of its own) orders it across instances.
    expect(delta(before, after, 'bot_db_queries_total{kind="lock"}')).toBe(100);
    expect(deltaAll(before, after, 'bot_db_queries_total')).toBe(150);
  });

  it('caches file bytes by file id up to 20 MiB, never above, and keeps the thread files context exact', async () => {
    const user: TgUser = { id: 401, first_name: 'Files' };
    const chat = privateChat(user);
    const files = bot.get(TelegramFilesClient);
    const downloads = files.downloads;
    const doc = { id: 'doc-a', size: 256 * 1024, name: 'report.pdf' };
    const first = await send(documentUpdate(user, { chat }, 1, doc, 'read this'));
    expect(first.text).toContain('files: report.pdf (262144 B, ');
    for (let i = 2; i <= 4; i++)
      expect((await send(textUpdate(user, { chat }, i, `about the report ${i}`))).text).toContain(
        'report.pdf (262144 B',
      );
    expect(files.downloads - downloads).toBe(1);
    const cached = await cache.get<Buffer>('file', 'doc-a');
    expect(Buffer.isBuffer(cached) && cached.equals(fileBytes('doc-a', doc.size))).toBe(true);

    await send(photoUpdate(user, { chat }, 5, 'photo-1'));
    await send(voiceUpdate(user, { chat }, 6, 'voice-1'));
    expect(files.downloads - downloads).toBe(3);

    const exactly20 = { id: 'doc-20mib', size: 20 * 1024 * 1024, name: 'twenty.bin' };
    const over20 = { id: 'doc-21mib', size: 21 * 1024 * 1024, name: 'big.bin' };
    await send(documentUpdate(user, { chat }, 7, exactly20));
    await send(documentUpdate(user, { chat }, 8, over20));
    expect(files.downloads - downloads).toBe(5);
    // The next message needs all five files again: none is downloaded again (the one over 20 MiB: its summary).
    await send(textUpdate(user, { chat }, 9, 'all files'));
    expect(files.downloads - downloads).toBe(5);
    expect((await cache.get<Buffer>('file', 'doc-20mib'))?.length).toBe(exactly20.size);
    expect(await cache.get('file', 'doc-21mib')).toBeUndefined();

    const threadId = await threadIdOf(user.id);
    const row = (
      await db.query<{ files_context: { fileId: string }[]; version: number }>(
        'SELECT files_context, version FROM threads WHERE id = $1',
        [threadId],
      )
    )[0]!;
    expect(row.files_context.map((f) => f.fileId)).toEqual(['doc-a', 'photo-1', 'voice-1', 'doc-20mib', 'doc-21mib']);
    expect(await cache.get<Thread>('thread', `${user.id}:0`)).toMatchObject({
      id: threadId,
      filesContext: row.files_context,
      version: row.version,
    });
    expect(
      await checkThreadReplies({
        db,
        threadId,
        title: 'Chat with Files',
        historyLimit: HISTORY_LIMIT,
        users: new Map([[user.id, { firstName: 'Files' }]]),
      }),
    ).toBe(9);
  }, 60_000);

  it('applies edits to the stored and cached history, and model changes by button or command', async () => {
    const user: TgUser = { id: 501, first_name: 'Editor' };
    const chat = privateChat(user);
    await send(textUpdate(user, { chat }, 1, 'one'));
    await send(textUpdate(user, { chat }, 2, 'two'));
    const threadId = await threadIdOf(user.id);
    expect(await cache.getList('messages', threadId)).toHaveLength(4);
    expect(await send(editedUpdate(user, { chat }, 1, 'uno'))).toEqual({});
    expect((await threadMessages(db, threadId))[0]!.text).toBe('uno');
    expect(await cache.getList('messages', threadId)).toBeUndefined();

    const balance = await balanceOf(user.id);
    expect(await send(callbackUpdate(user, chat, 'model:reverse-1'))).toMatchObject({
      method: 'answerCallbackQuery',
      text: 'Model set to reverse-1.',
    });
    const reversed = await send(textUpdate(user, { chat }, 3, 'abc'));
    // The history reloaded after the edit: the responder saw 'uno', not 'one'.
    const stored = (await threadMessages(db, threadId)).map(toChatMessage);
    expect(reversed.text).toBe(
      `[reverse-1] Editor: "cba"\ncontext: 4 earlier messages #${historyDigest(stored.slice(0, 4))}`,
    );
    const menu = await send(textUpdate(user, { chat }, 4, '/model'));
    expect(menu).toMatchObject({
      text: 'Your model is reverse-1. Choose one:',
      reply_markup: {
        inline_keyboard: [
          [
            { text: 'echo-1', callback_data: 'model:echo-1' },
            { text: '• reverse-1', callback_data: 'model:reverse-1' },
            { text: 'upper-1', callback_data: 'model:upper-1' },
          ],
        ],
      },
    });
    expect((await send(textUpdate(user, { chat }, 5, '/model upper-1'))).text).toBe('Model set to upper-1.');
    expect((await send(textUpdate(user, { chat }, 6, 'shout'))).text).toMatch(/^\[upper-1\] Editor: "SHOUT"/);
    expect((await send(textUpdate(user, { chat }, 7, '/model gpt-9'))).text).toBe(
      'Unknown model "gpt-9". Available: echo-1, reverse-1, upper-1.',
    );
    expect((await send(textUpdate(user, { chat }, 8, '/balance'))).text).toBe(
      'Your balance is 0.80. A message costs 0.05.',
    );
    // Commands are free: one charge per answered message only (abc, shout).
    expect(await balanceOf(user.id)).toBe((Number(balance) - 0.1).toFixed(4));
  });

  it('credits payments and admin top-ups, refunds charges, and invalidates the cached balance through events', async () => {
    const user: TgUser = { id: 601, first_name: 'Payer' };
    const chat = privateChat(user);
    for (let i = 1; i <= 20; i++) await send(textUpdate(user, { chat }, i, `spend ${i}`));
    expect(await balanceOf(user.id)).toBe('0.0000');
    expect((await send(textUpdate(user, { chat }, 21, 'one more'))).text).toMatch(
      /^Sorry, Payer, your balance \(0\.00\)/,
    );

    // Admin top-up: the cached balance (0.00) is invalidated by the event, so the next message is answered.
    await bot.http.post('/admin/users/601/top-up').send({ amount: '0.10' }).expect(401);
    await bot.http
      .post('/admin/users/601/top-up')
      .set('authorization', 'Bearer wrong-token')
      .send({ amount: '0.10' })
      .expect(401);
    await bot.http
      .post('/admin/users/601/top-up')
      .set('authorization', `Bearer ${ADMIN}`)
      .send({ amount: '-1' })
      .expect(400);
    const topped = await topUp(user.id, '0.10');
    expect(topped.body).toMatchObject({ amount: '0.1000', balance: '0.1000' });
    expect((await send(textUpdate(user, { chat }, 22, 'after top-up'))).text).toMatch(/^\[echo-1\]/);
    expect((await send(textUpdate(user, { chat }, 23, 'again'))).text).toMatch(/^\[echo-1\]/);
    expect((await send(textUpdate(user, { chat }, 24, 'too far'))).text).toMatch(/^Sorry,/);

    // A Telegram payment of an invoice the bot sent (/topup): credited once even when delivered twice.
    const invoice = (await send(textUpdate(user, { chat }, 30, '/topup 5'))) as Reply & {
      payload: string;
      currency: string;
      prices: { amount: number }[];
    };
    expect(invoice).toMatchObject({ method: 'sendInvoice', chat_id: 601, currency: 'USD', prices: [{ amount: 500 }] });
    expect(await send(preCheckoutUpdate(user, 500, invoice.payload))).toMatchObject({
      method: 'answerPreCheckoutQuery',
      ok: true,
    });
    const payment = paymentUpdate(user, 25, 500, 'tg-charge-1', invoice.payload);
    expect((await send(payment)).text).toBe('Thank you! 5.00 added; your balance is 5.00.');
    expect(await send({ ...payment, update_id: payment.update_id + 100_000 })).toEqual({});
    expect(await balanceOf(user.id)).toBe('5.0000');

    // Refund of a charge: once; the user view shows the new balance at once.
    const ledger = (await bot.http.get('/admin/users/601/payments').set('authorization', `Bearer ${ADMIN}`).expect(200))
      .body as { id: number; kind: string }[];
    const charge = ledger.find((p) => p.kind === 'charge')!;
    expect(
      (
        await bot.http
          .post('/admin/users/601/refund')
          .set('authorization', `Bearer ${ADMIN}`)
          .send({ chargeId: charge.id })
          .expect(200)
      ).body,
    ).toMatchObject({ amount: '0.0500', balance: '5.0500' });
    await bot.http
      .post('/admin/users/601/refund')
      .set('authorization', `Bearer ${ADMIN}`)
      .send({ chargeId: charge.id })
      .expect(409);
    await bot.http
      .post('/admin/users/601/refund')
      .set('authorization', `Bearer ${ADMIN}`)
      .send({ chargeId: 999_999 })
      .expect(404);
    const view = await bot.http.get('/admin/users/601').set('authorization', `Bearer ${ADMIN}`).expect(200);
    expect(view.body).toMatchObject({
      id: 601,
      firstName: 'Payer',
      balance: '5.0500',
      balanceText: '5.05',
      modelId: 'echo-1',
    });
    await bot.http.get('/admin/users/999').set('authorization', `Bearer ${ADMIN}`).expect(404);
  });

  it('answers malformed updates with 400 naming the field and writes nothing', async () => {
    const count = async () =>
      db.query<{ t: string; n: number }>(
        "SELECT 'users' AS t, count(*)::int8 AS n FROM users UNION ALL SELECT 'threads', count(*) FROM threads UNION ALL SELECT 'messages', count(*) FROM messages UNION ALL SELECT 'payments', count(*) FROM payments",
      );
    const before = await count();
    const user: TgUser = { id: 701, first_name: 'Bad' };
    const good = textUpdate(user, { chat: privateChat(user) }, 1, 'hello');
    const cases: [unknown, string][] = [
      [[], 'Malformed update: update must be an object'],
      [{ message: good.message }, 'Malformed update: update.update_id must be an integer'],
      [
        { update_id: 1 },
        'Malformed update: update must be an object with update_id and exactly one update field (got none)',
      ],
      [
        { ...good, callback_query: {} },
        'Malformed update: update must be an object with update_id and exactly one update field (got message, callback_query)',
      ],
      [
        { update_id: 2, message: { ...good.message, chat: undefined } },
        'Malformed update: message.chat must be an object',
      ],
      [
        { update_id: 3, message: { ...good.message, from: { ...good.message.from, id: '701' } } },
        'Malformed update: message.from.id must be an integer',
      ],
      [{ update_id: 4, message: { ...good.message, text: 42 } }, 'Malformed update: message.text must be a string'],
      [
        { update_id: 5, message: { ...good.message, text: undefined, photo: [] } },
        'Malformed update: message.photo must be a non-empty array of PhotoSize',
      ],
      [
        { update_id: 6, message: { ...good.message, text: undefined, document: { file_id: 'x' } } },
        'Malformed update: message.document.file_unique_id must be a string',
      ],
      [
        { update_id: 7, callback_query: { id: 'c', from: { id: 1, first_name: 'x' } } },
        'Malformed update: callback_query.from.is_bot must be a boolean',
      ],
    ];
    for (const [body, message] of cases) {
      const res = await bot.webhook(body as object, SECRET).expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, message });
    }
    const raw = await bot.http
      .post('/telegram/webhook')
      .set('x-telegram-bot-api-secret-token', SECRET)
      .set('content-type', 'application/json')
      .send('{"update_id": 1, "message": {')
      .expect(400);
    expect(raw.body.statusCode).toBe(400);
    expect(await count()).toEqual(before);
  });

  it('ignores what it does not handle, politely, and checks the secret token', async () => {
    const user: TgUser = { id: 801, first_name: 'Other' };
    const chat = privateChat(user);
    await send(textUpdate(user, { chat }, 100, '/help'));
    const res = await bot.webhook(pollUpdate(), SECRET).expect(200);
    expect(res.text).toBe('');
    expect(
      await send({
        update_id: 9_999_999,
        my_chat_member: { chat, from: { id: 801, is_bot: false, first_name: 'Other' }, date: 1 },
      }),
    ).toEqual({});
    expect(await send({ update_id: 9_999_998, some_future_update: { x: 1 } })).toEqual({});
    expect((await send(stickerUpdate(user, { chat }, 1))).text).toBe(
      "Sorry, I can't read sticker yet: send me text, a document, a photo or a voice message. You have not been charged.",
    );
    expect(
      await send({
        ...textUpdate(user, { chat }, 2, 'from a bot'),
        message: { ...textUpdate(user, { chat }, 2, 'x').message, from: { id: 9, is_bot: true, first_name: 'Bot' } },
      }),
    ).toEqual({});
    expect(await balanceOf(801)).toBe('1.0000');

    await bot.webhook(textUpdate(user, { chat }, 3, 'no secret'), null).expect(401);
    await bot.webhook(textUpdate(user, { chat }, 4, 'wrong secret'), 'nope').expect(401);
  });

  it('charges a re-delivered update once', async () => {
    const user: TgUser = { id: 901, first_name: 'Twice' };
    const update = textUpdate(user, { chat: privateChat(user) }, 1, 'hello');
    expect((await send(update)).text).toMatch(/^\[echo-1\] Twice: "hello"/);
    expect(await send(update)).toEqual({});
    expect(await balanceOf(901)).toBe('0.9500');
    expect(
      (
        await db.query<{ n: number }>(
          "SELECT count(*)::int8 AS n FROM payments WHERE user_id = 901 AND kind = 'charge'",
        )
      )[0]!.n,
    ).toBe(1);
  });

  it('reports health and metrics', async () => {
    const health = await bot.http.get('/health').expect(200);
    expect(health.body).toMatchObject({
      status: 'ok',
      info: {
        database: { status: 'up', driver: 'pg' },
        cache: { status: 'up', mode: 'up', backend: 'tiered', redis: { connected: true } },
      },
    });
    const metrics = await bot.http.get('/metrics').expect(200);
    expect(metrics.text).toContain('bot_updates_total{type="message"}');
    expect(metrics.text).toContain('bot_db_queries_total{kind="write"}');
    expect(metrics.text).toContain('bot_charged_amount_total');
    // The cache's own metrics, from nestjs-tiercache's CacheMetricsModule.
    expect(metrics.text).toMatch(/^cache_\w+\{[^}]*namespace="user"/m);
  });
});
