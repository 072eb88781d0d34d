/**
 * `npm run bench:bot`: the demo bot's webhook with the cache on vs off, side by side in one run.
 *
 * Two bot processes start at once (the real app, `apps/bot/src/main.ts`, through bench/register.js) against one
 * private redis-server and one throw-away database on the real PostgreSQL (127.0.0.1:5432, or BOT_BENCH_PG_URL):
 * one with CACHE_ENABLED=true (Redis + in-process tier), one with CACHE_ENABLED=false. autocannon drives Telegram
 * text updates at each in turn, in interleaved rounds (on, off, off, on, …) so the load of a shared machine hits both
 * alike. Two workloads, each on its own users and threads:
 *   - files: every thread has a 256 KiB document in its context, which the responder reads with every message
 *     (the files service stand-in answers in FILES_LATENCY_MS + size / bandwidth, like Telegram's getFile);
 *   - text: no files; the work is the user, thread and history reads and the one write.
 * Reported: requests/s, p95 latency, and from each bot's /metrics the database round trips and reads per answered
 * message in the steady state (after a warm-up). Targets: 0 DB reads per message once warm, ≤ 2 round trips per
 * message besides the thread's advisory lock (2: take and give back, on a connection of its own; it orders a thread
 * across instances), throughput with cache ≥ 3× without.
 * Then the response cache's hit rate on a realistic mix (seed 001 expects 15-20 % on common phrases), on the bot
 * with the cache: see {@link responseMix} for the mix.
 * Env: BENCH_BOT_ROUND_MS (default 4000), BENCH_BOT_ROUNDS (default 4, even), BENCH_BOT_CONNECTIONS (default 32),
 * BENCH_BOT_USERS (default 64), FILES_LATENCY_MS (default 150), BENCH_BOT_MIX_MESSAGES (default 3000),
 * BENCH_BOT_ONLY=mix (skip the throughput rounds).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../test/harness/free-port.js';
import { RedisServer } from '../test/harness/redis-server.js';
import { TestDatabase } from '../test/bot/support/test-database.js';

const ROUND_MS = Number(process.env['BENCH_BOT_ROUND_MS'] ?? 4000);
const ROUNDS = Number(process.env['BENCH_BOT_ROUNDS'] ?? 4);
const CONNECTIONS = Number(process.env['BENCH_BOT_CONNECTIONS'] ?? 32);
const USERS = Number(process.env['BENCH_BOT_USERS'] ?? 64);
const FILES_LATENCY_MS = process.env['FILES_LATENCY_MS'] ?? '150';
const DOC_SIZE = 256 * 1024;
const MIX_MESSAGES = Number(process.env['BENCH_BOT_MIX_MESSAGES'] ?? 3000);
const ONLY_MIX = process.env['BENCH_BOT_ONLY'] === 'mix';
const SECRET = 'bench-webhook-secret';
const SECRET_HEADER = 'x-telegram-bot-api-secret-token';

/** The slice of autocannon's API used here (it ships no types). */
interface AutocannonResult {
  requests: { total: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
}
interface AutocannonInstance {
  on(
    event: 'response',
    listener: (client: unknown, statusCode: number, bytes: number, responseTime: number) => void,
  ): void;
  then: Promise<AutocannonResult>['then'];
}
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  requests: {
    method: string;
    path: string;
    headers: Record<string, string>;
    setupRequest: (req: Record<string, unknown>) => Record<string, unknown>;
  }[];
}) => AutocannonInstance;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

type Workload = 'files' | 'text';
type Variant = 'on' | 'off';

interface Tally {
  /** Database round trips by statement kind. */
  byKind: Map<string, number>;
  requests: number;
  ms: number;
  latencies: number[];
  answered: number;
  dbTotal: number;
  dbReads: number;
  failures: number;
}

const write = (line = ''): void => void process.stdout.write(`${line}\n`);

/** One bot process. */
class Bot {
  private constructor(
    readonly variant: Variant,
    readonly url: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(variant: Variant, env: Record<string, string>): Promise<Bot> {
    const port = await freePort();
    // The test suite's loader: it maps the library's subpath doors (nestjs-tiercache/metrics, /health) too.
    const child = spawn(
      process.execPath,
      ['--import', './test/bot/support/process/register.js', 'apps/bot/src/main.ts'],
      {
        env: {
          PATH: process.env['PATH'] ?? '',
          PORT: String(port),
          HOST: '127.0.0.1',
          LOG_LEVEL: 'warn',
          CACHE_ENABLED: String(variant === 'on'),
          ...env,
        },
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    const bot = new Bot(variant, `http://127.0.0.1:${port}`, child);
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`bot (cache ${variant}) exited with code ${child.exitCode}`);
      const ok = await fetch(`${bot.url}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return bot;
      if (Date.now() > deadline) throw new Error(`bot (cache ${variant}) not healthy after 120 s`);
      await sleep(200);
    }
  }

  async post(update: object): Promise<{ text?: string }> {
    const res = await fetch(`${this.url}/telegram/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SECRET_HEADER]: SECRET },
      body: JSON.stringify(update),
    });
    if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
    const body = await res.text();
    return body === '' ? {} : (JSON.parse(body) as { text?: string });
  }

  /** The bot's own counters from /metrics. */
  async counters(): Promise<{
    answered: number;
    dbTotal: number;
    dbReads: number;
    byKind: Map<string, number>;
    responses: Map<string, number>;
  }> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    const responses = new Map<string, number>();
    let answered = 0;
    let dbTotal = 0;
    let dbReads = 0;
    const byKind = new Map<string, number>();
    for (const line of text.split('\n')) {
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (line.startsWith('bot_replies_total{') && line.includes('outcome="answered"')) answered += value;
      const result = /^bot_response_cache_total\{result="(\w+)"\}/.exec(line)?.[1];
      if (result !== undefined) responses.set(result, value);
      const kind = /^bot_db_queries_total\{kind="(\w+)"\}/.exec(line)?.[1];
      if (kind !== undefined) {
        dbTotal += value;
        byKind.set(kind, value);
        if (kind === 'select') dbReads += value;
      }
    }
    return { answered, dbTotal, dbReads, byKind, responses };
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** Users (and their private chats) of one workload on one bot; message ids per chat increase. */
class Audience {
  private readonly nextMessageId = new Map<number, number>();
  private turn = 0;
  private updateId: number;

  constructor(private readonly firstUserId: number) {
    this.updateId = firstUserId * 1_000;
  }

  get userIds(): number[] {
    return Array.from({ length: USERS }, (_, i) => this.firstUserId + i);
  }

  private message(userId: number, fields: object): object {
    const messageId = (this.nextMessageId.get(userId) ?? 0) + 1;
    this.nextMessageId.set(userId, messageId);
    return {
      update_id: ++this.updateId,
      message: {
        message_id: messageId,
        from: { id: userId, is_bot: false, first_name: `Bench${userId}` },
        chat: { id: userId, type: 'private' },
        date: 1_795_000_000 + messageId,
        ...fields,
      },
    };
  }

  document(userId: number): object {
    return this.message(userId, {
      document: {
        file_id: `bench-doc-${userId}`,
        file_unique_id: `u-bench-doc-${userId}`,
        file_name: 'brief.pdf',
        file_size: DOC_SIZE,
      },
      caption: 'please read',
    });
  }

  /** The next text update, round-robin over the users. */
  nextText(): object {
    const userId = this.firstUserId + (this.turn++ % USERS);
    return this.message(userId, { text: `question ${this.turn} about the brief` });
  }
}

async function round(bot: Bot, audience: Audience, ms: number): Promise<Tally> {
  const before = await bot.counters();
  const latencies: number[] = [];
  const instance = autocannon({
    url: bot.url,
    connections: CONNECTIONS,
    duration: ms / 1000,
    requests: [
      {
        method: 'POST',
        path: '/telegram/webhook',
        headers: { 'content-type': 'application/json', [SECRET_HEADER]: SECRET },
        setupRequest: (req) => ({ ...req, body: JSON.stringify(audience.nextText()) }),
      },
    ],
  });
  instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  const result = await instance;
  // autocannon stops sending at the deadline, but the bot still finishes the requests in flight: count them in.
  let after = await bot.counters();
  for (let settled = false; !settled;) {
    await sleep(150);
    const next = await bot.counters();
    settled = next.answered === after.answered && next.dbTotal === after.dbTotal;
    after = next;
  }
  const byKind = new Map<string, number>();
  for (const [kind, value] of after.byKind)
    if (value - (before.byKind.get(kind) ?? 0) > 0) byKind.set(kind, value - (before.byKind.get(kind) ?? 0));
  return {
    byKind,
    requests: result.requests.total,
    ms: result.duration * 1000,
    latencies,
    answered: after.answered - before.answered,
    dbTotal: after.dbTotal - before.dbTotal,
    dbReads: after.dbReads - before.dbReads,
    failures: result.non2xx + result.errors + result.timeouts,
  };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function merge(tallies: Tally[]): Tally {
  return tallies.reduce((a, b) => ({
    byKind: new Map(
      [...new Set([...a.byKind.keys(), ...b.byKind.keys()])].map((k) => [
        k,
        (a.byKind.get(k) ?? 0) + (b.byKind.get(k) ?? 0),
      ]),
    ),
    requests: a.requests + b.requests,
    ms: a.ms + b.ms,
    latencies: a.latencies.concat(b.latencies),
    answered: a.answered + b.answered,
    dbTotal: a.dbTotal + b.dbTotal,
    dbReads: a.dbReads + b.dbReads,
    failures: a.failures + b.failures,
  }));
}

async function main(): Promise<void> {
  write(
    `bot bench: ${cpus().length} cores, load ${loadavg()[0]?.toFixed(1)}, ${ROUNDS} rounds x ${ROUND_MS} ms per variant and workload, ${CONNECTIONS} connections, ${USERS} users per workload, files latency ${FILES_LATENCY_MS} ms`,
  );
  const [redis, db] = await Promise.all([
    RedisServer.start({ args: ['--maxmemory', '512mb', '--maxmemory-policy', 'allkeys-lru'] }),
    TestDatabase.create(),
  ]);
  const bots: Bot[] = [];
  try {
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      CACHE_PREFIX: 'bench',
      MESSAGE_PRICE: '0.0001',
      INITIAL_BALANCE: '100000',
      HISTORY_LIMIT: '20',
      FILES_LATENCY_MS,
      TELEGRAM_SECRET_TOKEN: SECRET,
    };
    // One after the other: both run the migrations at boot (serialized by an advisory lock anyway).
    bots.push(await Bot.start('on', env));
    if (ONLY_MIX) {
      await responseMix(bots[0]!);
      return;
    }
    bots.push(await Bot.start('off', env));
    const [on, off] = bots as [Bot, Bot];
    const audiences: Record<Variant, Record<Workload, Audience>> = {
      on: { files: new Audience(100_000), text: new Audience(200_000) },
      off: { files: new Audience(300_000), text: new Audience(400_000) },
    };

    // Warm-up: register every user, open every thread, put the document in the files workload's threads, fill the
    // caches; then a short unmeasured load round.
    for (const bot of bots) {
      const a = audiences[bot.variant];
      await Promise.all(a.files.userIds.map(async (id) => assertAnswered(await bot.post(a.files.document(id)))));
      await Promise.all(
        a.text.userIds.map(async (id) =>
          assertAnswered(
            await bot.post(a.text.nextText()).then(
              (r) => r,
              () => ({ text: `failed ${id}` }),
            ),
          ),
        ),
      );
      for (const workload of ['files', 'text'] as const) await round(bot, a[workload], 1000);
    }

    const results: Record<Workload, Record<Variant, Tally[]>> = {
      files: { on: [], off: [] },
      text: { on: [], off: [] },
    };
    for (const workload of ['files', 'text'] as const) {
      for (let i = 0; i < ROUNDS; i++) {
        const order: Bot[] = i % 2 === 0 ? [on, off] : [off, on];
        for (const bot of order)
          results[workload][bot.variant].push(await round(bot, audiences[bot.variant][workload], ROUND_MS));
      }
    }

    write();
    write(
      '| workload | cache | req/s | p95 ms | DB round trips / msg | DB reads / msg | by statement kind / msg | failed |',
    );
    write('| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |');
    const summary: string[] = [];
    for (const workload of ['files', 'text'] as const) {
      const rows = { on: merge(results[workload].on), off: merge(results[workload].off) };
      for (const variant of ['on', 'off'] as const) {
        const t = rows[variant];
        write(
          `| ${workload} | ${variant} | ${((t.requests / t.ms) * 1000).toFixed(0)} | ${percentile(t.latencies, 95).toFixed(1)} | ${(t.dbTotal / t.answered).toFixed(2)} | ${(t.dbReads / t.answered).toFixed(2)} | ${[...t.byKind].map(([k, v]) => `${k} ${(v / t.answered).toFixed(2)}`).join(', ')} | ${t.failures} |`,
        );
      }
      const ratio = rows.on.requests / rows.on.ms / (rows.off.requests / rows.off.ms);
      summary.push(
        `${workload}: throughput with cache ${ratio.toFixed(1)}x without (target >= 3x); p95 ${percentile(rows.on.latencies, 95).toFixed(1)} vs ${percentile(rows.off.latencies, 95).toFixed(1)} ms; warm DB reads/msg ${(rows.on.dbReads / rows.on.answered).toFixed(2)} (target 0), round trips/msg ${(rows.on.dbTotal / rows.on.answered).toFixed(2)}, of which the thread lock ${((rows.on.byKind.get('lock') ?? 0) / rows.on.answered).toFixed(2)} (target <= 2 besides the lock)`,
      );
      if (rows.on.failures + rows.off.failures > 0) process.exitCode = 1;
    }
    write();
    for (const line of summary) write(line);
    await responseMix(on);
  } finally {
    await Promise.all(bots.map((bot) => bot.stop()));
    await Promise.all([db.drop(), redis.stop()]);
  }
}

/** xorshift32: the mix is the same in every run. */
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

/** Short messages users of a chat bot send again and again (greetings, thanks, the usual questions). */
const COMMON_PHRASES = [
  'hi',
  'hello',
  'thanks',
  'thank you',
  'ok',
  'yes',
  'no',
  'good morning',
  'good night',
  'how are you?',
  'what can you do?',
  'help',
  'who are you?',
  'tell me a joke',
  'what time is it?',
  'bye',
  'great',
  'cool',
  'please explain',
  'give me an example',
  'translate this',
  'what does it mean?',
  'can you repeat?',
  'why?',
  'how much does it cost?',
  'what is my balance?',
  'i do not understand',
  'continue',
  'more',
  'stop',
];

/**
 * The response cache's hit rate on a realistic mix, on one bot (cache on), through the webhook:
 * - 200 users in private chats; settings as a real audience spreads them: models echo-1 / reverse-1 / upper-1 for
 *   70 / 20 / 10 % of users, languages en / cs / de for 60 / 25 / 15 %;
 * - 30 % of messages are common phrases (30 phrases, Zipf-distributed popularity, s = 1), typed in varied case and
 *   spacing ("Thanks", "  thanks ", "THANKS"); 70 % are questions asked once;
 * - BENCH_BOT_MIX_MESSAGES messages (default 3000), 16 in flight, in a fixed pseudo-random order.
 * Reported: hits / (hits + misses) from the bot's bot_response_cache_total.
 */
async function responseMix(bot: Bot): Promise<void> {
  const next = random(0x5eed);
  const users = Array.from({ length: 200 }, (_, i) => {
    const m = next();
    const l = next();
    return {
      id: 900_000 + i,
      model: m < 0.7 ? 'echo-1' : m < 0.9 ? 'reverse-1' : 'upper-1',
      language: l < 0.6 ? 'en' : l < 0.85 ? 'cs' : 'de',
      messageId: 0,
    };
  });
  const weights = COMMON_PHRASES.map((_, rank) => 1 / (rank + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const phrase = (): string => {
    let pick = next() * total;
    for (let i = 0; i < COMMON_PHRASES.length; i++) {
      pick -= weights[i]!;
      if (pick <= 0) return COMMON_PHRASES[i]!;
    }
    return COMMON_PHRASES[0]!;
  };
  const variant = (text: string): string => {
    const v = next();
    if (v < 0.5) return text;
    if (v < 0.7) return text.charAt(0).toUpperCase() + text.slice(1);
    if (v < 0.85) return `  ${text.replace(/ /g, '  ')} `;
    return text.toUpperCase();
  };
  const update = (user: (typeof users)[number], text: string): object => ({
    update_id: 50_000_000 + user.id * 1_000 + ++user.messageId,
    message: {
      message_id: user.messageId,
      from: { id: user.id, is_bot: false, first_name: `Mix${user.id}`, language_code: user.language },
      chat: { id: user.id, type: 'private' },
      date: 1_795_000_000 + user.messageId,
      text,
    },
  });
  for (const user of users) {
    await bot.post(update(user, '/start'));
    await bot.post(update(user, `/model ${user.model}`));
  }
  const plan = Array.from({ length: MIX_MESSAGES }, (_, i) => {
    const user = users[Math.floor(next() * users.length)]!;
    const common = next() < 0.3;
    return {
      user,
      text: common ? variant(phrase()) : `question ${i} of user ${user.id}: what about topic ${i * 7919}?`,
    };
  });
  const before = await bot.counters();
  let cursor = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let i = cursor++; i < plan.length; i = cursor++) await bot.post(update(plan[i]!.user, plan[i]!.text));
    }),
  );
  const after = await bot.counters();
  const count = (result: string): number => (after.responses.get(result) ?? 0) - (before.responses.get(result) ?? 0);
  const hits = count('hit');
  const misses = count('miss');
  write();
  write(
    `response cache on a realistic mix (200 users; models 70/20/10 %, languages 60/25/15 %; 30 % common phrases, Zipf over 30, varied case and spacing; 70 % one-off questions): ${MIX_MESSAGES} messages in ${((performance.now() - started) / 1000).toFixed(1)} s, hits ${hits}, misses ${misses}, hit rate ${((hits / (hits + misses)) * 100).toFixed(1)} % (seed 001 expects 15-20 %)`,
  );
}

function assertAnswered(reply: { text?: string }): void {
  if (!reply.text?.startsWith('[echo-1]')) throw new Error(`warm-up message not answered: ${JSON.stringify(reply)}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
