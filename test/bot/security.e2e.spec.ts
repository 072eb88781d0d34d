import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TelegramFilesClient } from '../../apps/bot/src/files/telegram-files.client.js';
import { BotApp, CapturingLogger, TEST_SECRET } from './support/bot-app.js';
import { TestDatabase } from './support/test-database.js';
import type { TgUser } from './support/updates.js';
import {
  documentUpdate,
  forum,
  paymentUpdate,
  preCheckoutUpdate,
  privateChat,
  textUpdate,
  topicCreatedUpdate,
} from './support/updates.js';

const ADMIN = 'admin-token-sec1';

interface Invoice {
  method: string;
  payload: string;
  currency: string;
  prices: { amount: number }[];
}

describe('bot webhook secret (PostgreSQL)', () => {
  let secretDb: TestDatabase;
  beforeAll(async () => {
    secretDb = await TestDatabase.create();
  });
  afterAll(async () => {
    await secretDb?.drop();
  });

  it('refuses to start without a webhook secret outside development; development generates one and logs it', async () => {
    await expect(BotApp.start({ DATABASE_URL: secretDb.url, TELEGRAM_SECRET_TOKEN: undefined })).rejects.toThrow(
      'Invalid environment variable TELEGRAM_SECRET_TOKEN: required in production',
    );
    const devLog = new CapturingLogger();
    const dev = await BotApp.start(
      { DATABASE_URL: secretDb.url, BOT_ENV: 'development', TELEGRAM_SECRET_TOKEN: undefined },
      { logger: devLog },
    );
    try {
      const secret = /x-telegram-bot-api-secret-token: ([A-Za-z0-9_-]{32})/.exec(devLog.text())?.[1];
      expect(secret).toBeDefined();
      const user: TgUser = { id: 1_001, first_name: 'Dev' };
      await dev.webhook(textUpdate(user, { chat: privateChat(user) }, 1, 'hi'), null).expect(401);
      await dev.webhook(textUpdate(user, { chat: privateChat(user) }, 1, 'hi'), TEST_SECRET).expect(401);
      await dev.webhook(textUpdate(user, { chat: privateChat(user) }, 1, '/balance'), secret!).expect(200);
    } finally {
      await dev.close();
    }
  });
});

/** The bot probed as an attacker would, on loopback (real PostgreSQL, in-memory cache). */
describe('bot security (PostgreSQL)', () => {
  let db: TestDatabase;
  let bot: BotApp;
  const log = new CapturingLogger();

  beforeAll(async () => {
    db = await TestDatabase.create();
    bot = await BotApp.start(
      {
        DATABASE_URL: db.url,
        ADMIN_TOKEN: ADMIN,
        PAYMENT_CURRENCY: 'USD',
        FILES_LATENCY_MS: '0',
        FILES_BANDWIDTH_BYTES_PER_SEC: String(10 * 1024 ** 3),
        // The responder reads the thread's files with every message (and says so in its reply).
        RESPONDER_CONTEXT: 'true',
      },
      { logger: log },
    );
  }, 60_000);

  afterAll(async () => {
    await bot?.close();
    await db?.drop();
  });

  const send = async (update: object): Promise<Record<string, unknown>> =>
    (await bot.webhook(update).expect(200)).body as Record<string, unknown>;
  const balanceOf = async (userId: number): Promise<string | undefined> =>
    (await db.query<{ balance: string }>('SELECT balance FROM users WHERE id = $1', [userId]))[0]?.balance;

  it('credits only invoices the bot issued, in their currency and total, once', async () => {
    const user: TgUser = { id: 1_101, first_name: 'Payer' };
    const other: TgUser = { id: 1_102, first_name: 'Other' };
    const chat = privateChat(user);
    await send(textUpdate(other, { chat: privateChat(other) }, 1, '/start'));
    // A forged payment (no invoice): USD 1,000,000.00 is not credited.
    expect(await send(paymentUpdate(user, 2, 100_000_000, 'forged-1', 'topup'))).toEqual({});
    expect(await balanceOf(user.id)).toBe('1.0000');
    expect(await send(preCheckoutUpdate(user, 100_000_000, 'topup'))).toMatchObject({ ok: false });

    const invoice = (await send(textUpdate(user, { chat }, 3, '/topup 5'))) as unknown as Invoice;
    expect(invoice).toMatchObject({ method: 'sendInvoice', currency: 'USD', prices: [{ amount: 500 }] });
    expect(invoice.payload).toMatch(/^inv_[0-9a-f]{24}$/);
    // The right payload with another currency or total, or paid by another user: refused and not credited.
    expect(await send(preCheckoutUpdate(user, 5, invoice.payload, 'XTR'))).toMatchObject({ ok: false });
    expect(await send(preCheckoutUpdate(user, 50_000, invoice.payload))).toMatchObject({ ok: false });
    expect(await send(preCheckoutUpdate(other, 500, invoice.payload))).toMatchObject({ ok: false });
    expect(await send(paymentUpdate(user, 4, 5, 'wrong-currency', invoice.payload, 'XTR'))).toEqual({});
    expect(await send(paymentUpdate(user, 5, 1, 'wrong-yen', invoice.payload, 'JPY'))).toEqual({});
    expect(await send(paymentUpdate(user, 6, 50_000, 'wrong-total', invoice.payload))).toEqual({});
    expect(await send(paymentUpdate(other, 7, 500, 'wrong-user', invoice.payload))).toEqual({});
    expect(await balanceOf(user.id)).toBe('1.0000');
    expect(await balanceOf(other.id)).toBe('1.0000');

    expect(await send(preCheckoutUpdate(user, 500, invoice.payload))).toMatchObject({ ok: true });
    expect((await send(paymentUpdate(user, 8, 500, 'good-1', invoice.payload))).text).toBe(
      'Thank you! 5.00 added; your balance is 6.00.',
    );
    // Paid once: the same invoice paid again (another charge id) or re-delivered is not credited again.
    expect(await send(paymentUpdate(user, 9, 500, 'good-2', invoice.payload))).toEqual({});
    expect(await send(paymentUpdate(user, 8, 500, 'good-1', invoice.payload))).toEqual({});
    expect(await send(preCheckoutUpdate(user, 500, invoice.payload))).toMatchObject({ ok: false });
    expect(await balanceOf(user.id)).toBe('6.0000');
    expect((await send(textUpdate(user, { chat }, 10, '/topup 0.001'))).text).toMatch(/^Usage: \/topup/);
    expect((await send(textUpdate(user, { chat }, 11, '/topup 99999999'))).text).toMatch(/^Usage: \/topup/);
  });

  it('answers malformed input 400, never 500, and stores nothing of it', async () => {
    const user: TgUser = { id: 1_201, first_name: 'Mallory' };
    const chat = privateChat(user);
    const good = textUpdate(user, { chat }, 1, 'hello').message;
    const group = forum(-100_1201, 'Forum');
    const topic = topicCreatedUpdate(user, group, 5, 'topic').message;
    const doc = documentUpdate(user, { chat }, 2, { id: 'doc-nul', size: 10, name: 'a' }).message;
    const bodies: object[] = [
      { update_id: 1, message: { ...good, text: 'nul \u0000 byte' } },
      { update_id: 2, message: { ...good, from: { ...good.from, first_name: 'Mal\u0000lory' } } },
      { update_id: 3, message: { ...doc, document: { ...doc.document, file_name: 'evil\u0000.pdf' } } },
      { update_id: 4, message: { ...topic, forum_topic_created: { name: 'bad\u0000topic', icon_color: 1 } } },
      { update_id: 5, message: { ...good, date: 9_007_199_254_740_991 } },
      { update_id: 6, message: { ...good, date: -9_007_199_254_740_991 } },
    ];
    for (const body of bodies) await bot.webhook(body).expect(400);
    // Ids beyond 64 bits (and beyond 53): raw JSON, as an attacker would send it.
    for (const raw of [
      `{"update_id":7,"message":${JSON.stringify({ ...good, chat: { id: 0, type: 'private' } }).replace('"id":0', '"id":123456789012345678901234567890')}}`,
      `{"update_id":184467440737095516160,"message":${JSON.stringify(good)}}`,
      `{"update_id":8,"message":${JSON.stringify(good).replace(`"message_id":1`, '"message_id":18446744073709551617')}}`,
    ])
      await bot.http
        .post('/telegram/webhook')
        .set('x-telegram-bot-api-secret-token', TEST_SECRET)
        .set('content-type', 'application/json')
        .send(raw)
        .expect(400);
    const admin = (path: string) => bot.http.post(path).set('authorization', `Bearer ${ADMIN}`);
    await send(textUpdate(user, { chat }, 3, '/start'));
    await admin(`/admin/users/${user.id}/top-up`).send({ amount: '5', note: 'a\u0000b' }).expect(400);
    await admin(`/admin/users/${user.id}/top-up`).send({ amount: '99999999999999' }).expect(400);
    await admin(`/admin/users/${user.id}/top-up`).send({ amount: 1e300 }).expect(400);
    await admin('/admin/users/123456789012345678901234567890/top-up').send({ amount: '1' }).expect(400);
    await bot.http.get('/admin/users/99999999999999999999').set('authorization', `Bearer ${ADMIN}`).expect(400);
    await admin(`/admin/users/${user.id}/refund`).send({ chargeId: 1e30 }).expect(400);
    expect(await balanceOf(user.id)).toBe('1.0000');
    const stored = await db.query<{ n: number }>(
      "SELECT count(*)::int8 AS n FROM messages m JOIN users u ON u.id = m.user_id WHERE u.id = $1 OR m.text LIKE '%' || chr(1) || '%'",
      [user.id],
    );
    expect(stored[0]!.n).toBe(0);
  });

  it('logs database errors by code and ids, never the user content or parameters', async () => {
    // A constraint the bot does not know of makes PostgreSQL refuse the exchange (SQLSTATE 23514).
    await db.query("ALTER TABLE messages ADD CONSTRAINT no_secret_words CHECK (text NOT LIKE '%zebra-secret%')");
    try {
      const user: TgUser = { id: 1_301, first_name: 'Privatename', username: 'private_handle' };
      log.lines.length = 0;
      await bot.webhook(textUpdate(user, { chat: privateChat(user) }, 1, 'my zebra-secret password')).expect(500);
      const text = log.text();
      expect(text).toContain('SQLSTATE 23514');
      expect(text).toMatch(/update \d+/);
      for (const content of ['zebra-secret', 'Privatename', 'private_handle', 'password', 'no_secret_words'])
        expect(text).not.toContain(content);
    } finally {
      await db.query('ALTER TABLE messages DROP CONSTRAINT no_secret_words');
    }
  });

  it('downloads a file over 20 MiB once, not again for every later message of its thread', async () => {
    const user: TgUser = { id: 1_401, first_name: 'Hoarder' };
    const chat = privateChat(user);
    const files = bot.get(TelegramFilesClient);
    await send(textUpdate(user, { chat }, 1, '/start'));
    await bot.http
      .post(`/admin/users/${user.id}/top-up`)
      .set('authorization', `Bearer ${ADMIN}`)
      .send({ amount: '10' })
      .expect(200);
    const before = files.downloads;
    for (let i = 0; i < 5; i++)
      await send(documentUpdate(user, { chat }, 10 + i, { id: `big-${i}`, size: 21 * 1024 * 1024, name: `b${i}.bin` }));
    expect(files.downloads - before).toBe(5);
    for (let i = 0; i < 4; i++)
      expect((await send(textUpdate(user, { chat }, 20 + i, `hi ${i}`))).text).toContain('b4.bin (22020096 B');
    expect(files.downloads - before).toBe(5);
  }, 60_000);

  it('rate-limits wrong admin tokens per client: 429 after 10 within a minute, even with the right token', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++)
      statuses.push((await bot.http.get('/admin/users/1101').set('authorization', `Bearer wrong-token-${i}`)).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual(Array(20).fill(429));
    const blocked = await bot.http.get('/admin/users/1101').set('authorization', `Bearer ${ADMIN}`);
    expect(blocked.status).toBe(429);
    expect(blocked.body.message).toMatch(/too many wrong admin tokens/);
  });
});
