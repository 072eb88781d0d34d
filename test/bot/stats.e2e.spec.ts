import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Clock } from '../../apps/bot/src/clock/clock.js';
import { dayWindow } from '../../apps/bot/src/stats/day-window.js';
import { RedisServer } from '../harness/redis-server.js';
import { BotApp, delta } from './support/bot-app.js';
import { TestDatabase } from './support/test-database.js';
import type { TgUser } from './support/updates.js';
import { paymentUpdate, preCheckoutUpdate, privateChat, textUpdate } from './support/updates.js';

const ADMIN = 'admin-token-stats';
const HOUR = 3_600_000;

/** A clock the test moves by hand. */
class TestClock extends Clock {
  at = Date.UTC(2026, 11, 5, 10, 0, 0);
  override now(): number {
    return this.at;
  }
}

describe('day windows', () => {
  it('start at local midnight, UTC by default, across DST changes', () => {
    expect(dayWindow(Date.UTC(2026, 11, 5, 23, 30), null)).toEqual({
      day: '2026-12-05',
      timeZone: 'UTC',
      start: Date.UTC(2026, 11, 5),
      end: Date.UTC(2026, 11, 6),
    });
    expect(dayWindow(Date.UTC(2026, 11, 5, 23, 30), 'Europe/Prague')).toMatchObject({
      day: '2026-12-06',
      start: Date.UTC(2026, 11, 5, 23),
      end: Date.UTC(2026, 11, 6, 23),
    });
    // 2026-03-08 in New York has 23 hours (clocks go forward at 02:00).
    const spring = dayWindow(Date.UTC(2026, 2, 8, 12), 'America/New_York');
    expect(spring).toMatchObject({ day: '2026-03-08', start: Date.UTC(2026, 2, 8, 5), end: Date.UTC(2026, 2, 9, 4) });
  });
});

/** /stats on real Redis and PostgreSQL, with a clock the test controls. */
describe('daily stats (Redis + PostgreSQL)', () => {
  let redis: RedisServer;
  let db: TestDatabase;
  let bot: BotApp;
  const clock = new TestClock();
  const user: TgUser = { id: 3_001, first_name: 'Counter' };
  const chat = privateChat(user);
  let messageId = 0;

  beforeAll(async () => {
    [redis, db] = await Promise.all([RedisServer.start(), TestDatabase.create()]);
    bot = await BotApp.start(
      {
        DATABASE_URL: db.url,
        REDIS_URL: redis.url,
        CACHE_PREFIX: 'bot-st',
        MESSAGE_PRICE: '0.05',
        INITIAL_BALANCE: '1.00',
        ADMIN_TOKEN: ADMIN,
        PAYMENT_CURRENCY: 'USD',
      },
      { clock },
    );
  }, 60_000);

  afterAll(async () => {
    await bot?.close();
    await Promise.all([db?.drop(), redis?.stop()]);
  });

  const say = async (text: string): Promise<string> =>
    (
      (await bot.webhook(textUpdate(user, { chat }, ++messageId, text, Math.floor(clock.at / 1000))).expect(200))
        .body as { text: string }
    ).text;
  const admin = (path: string) => bot.http.post(path).set('authorization', `Bearer ${ADMIN}`);
  const selects = 'bot_db_queries_total{kind="select"}';
  /** PTTL of the one stats entry (the only user here; the library names the key). */
  const statsTtl = async (): Promise<number> => {
    const [, keys] = (await redis.command('SCAN', '0', 'MATCH', 'bot-st:stats:*', 'COUNT', '1000')) as [
      string,
      string[],
    ];
    expect(keys).toHaveLength(1);
    return Number(await redis.command('PTTL', keys[0]!));
  };

  it("counts today's messages and spend with the balance, cached until the user's midnight", async () => {
    for (let i = 0; i < 3; i++) expect(await say(`question ${i}`)).toMatch(/^\[echo-1\]/);
    expect(await say('/stats')).toBe('Today (2026-12-05, UTC): 3 messages, spent 0.15. Your balance is 0.85.');
    const ttl = await statsTtl();
    expect(ttl).toBeGreaterThan(13 * HOUR);
    expect(ttl).toBeLessThanOrEqual(14 * HOUR);
    const before = await bot.metrics();
    expect(await say('/stats')).toBe('Today (2026-12-05, UTC): 3 messages, spent 0.15. Your balance is 0.85.');
    expect(delta(before, await bot.metrics(), selects)).toBe(0);
  });

  it('is never stale after a charge, a top-up, a refund or a payment', async () => {
    await say('one more');
    expect(await say('/stats')).toBe('Today (2026-12-05, UTC): 4 messages, spent 0.20. Your balance is 0.80.');
    await admin(`/admin/users/${user.id}/top-up`).send({ amount: '2' }).expect(200);
    expect(await say('/stats')).toBe('Today (2026-12-05, UTC): 4 messages, spent 0.20. Your balance is 2.80.');
    const ledger = (
      await bot.http.get(`/admin/users/${user.id}/payments`).set('authorization', `Bearer ${ADMIN}`).expect(200)
    ).body as { id: number; kind: string }[];
    await admin(`/admin/users/${user.id}/refund`)
      .send({ chargeId: ledger.find((p) => p.kind === 'charge')!.id })
      .expect(200);
    expect(await say('/stats')).toBe('Today (2026-12-05, UTC): 4 messages, spent 0.15. Your balance is 2.85.');
    const invoice = (await bot.webhook(textUpdate(user, { chat }, ++messageId, '/topup 1')).expect(200)).body as {
      payload: string;
    };
    await bot.webhook(preCheckoutUpdate(user, 100, invoice.payload)).expect(200);
    await bot.webhook(paymentUpdate(user, ++messageId, 100, 'stats-charge-1', invoice.payload)).expect(200);
    expect(await say('/stats')).toBe('Today (2026-12-05, UTC): 4 messages, spent 0.15. Your balance is 3.85.');
  });

  it('starts a new day at midnight (controlled clock), and at the midnight of the user’s time zone', async () => {
    clock.at = Date.UTC(2026, 11, 6, 0, 0, 1);
    // The entry cached yesterday is still in Redis (its TTL follows the real clock): the day in it is checked.
    expect(await say('/stats')).toBe('Today (2026-12-06, UTC): 0 messages, spent 0.00. Your balance is 3.85.');
    await say('good morning');
    expect(await say('/stats')).toBe('Today (2026-12-06, UTC): 1 message, spent 0.05. Your balance is 3.80.');

    // 03:00 UTC is still 22:00 of 5 December in New York: that day has the 4 messages of the 5th and this one.
    clock.at = Date.UTC(2026, 11, 6, 3, 0, 0);
    expect(await say('/timezone Mars/Olympus')).toMatch(/^Usage: \/timezone/);
    expect(await say('/timezone America/New_York')).toMatch(/^Time zone set to America\/New_York/);
    expect(await say('/stats')).toBe(
      'Today (2026-12-05, America/New_York): 5 messages, spent 0.20. Your balance is 3.80.',
    );
    const ttl = await statsTtl();
    expect(ttl).toBeGreaterThan(1.9 * HOUR);
    expect(ttl).toBeLessThanOrEqual(2 * HOUR);
    clock.at = Date.UTC(2026, 11, 6, 5, 0, 0);
    expect(await say('/stats')).toBe(
      'Today (2026-12-06, America/New_York): 0 messages, spent 0.00. Your balance is 3.80.',
    );
  });
});
