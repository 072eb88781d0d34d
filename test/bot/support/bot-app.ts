import type { INestApplication, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import request from 'supertest';
import { AppModule } from '../../../apps/bot/src/app.module.js';
import type { AppModuleOptions } from '../../../apps/bot/src/app.module.js';

/** The webhook secret a test bot gets unless its env names TELEGRAM_SECRET_TOKEN (even as undefined). */
export const TEST_SECRET = 'test-webhook-secret';

/** Options of {@link BotApp.start}: the app module's (but env) and a logger to capture what the bot logs. */
export interface BotAppOptions extends Omit<AppModuleOptions, 'env'> {
  logger?: LoggerService;
}

/**
 * Keeps every line the bot logs (message and context; error stacks too), for tests that check what reaches the log.
 * @example const log = new CapturingLogger(); await BotApp.start(env, { logger: log }); log.text()
 */
export class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(...parts: unknown[]): void {
    this.lines.push(parts.map(String).join(' '));
  }
  error(...parts: unknown[]): void {
    this.lines.push(parts.map(String).join(' '));
  }
  warn(...parts: unknown[]): void {
    this.lines.push(parts.map(String).join(' '));
  }
  text(): string {
    return this.lines.join('\n');
  }
}

/** Counters of /metrics, by full series (`name{labels}`). */
export type MetricSample = Map<string, number>;

/**
 * The bot on a real HTTP server (port 0), configured only from `env` (never from process.env or .env).
 * @example const bot = await BotApp.start({ DATABASE_URL: db.url, REDIS_URL: redis.url });
 */
export class BotApp {
  private constructor(readonly app: INestApplication) {}

  static async start(env: Record<string, string | undefined>, options: BotAppOptions = {}): Promise<BotApp> {
    const withSecret = 'TELEGRAM_SECRET_TOKEN' in env ? env : { ...env, TELEGRAM_SECRET_TOKEN: TEST_SECRET };
    const { logger, ...moduleOptions } = options;
    const app = await NestFactory.create(AppModule.forRoot({ ...moduleOptions, env: withSecret }), {
      logger: logger ?? ['error', 'warn'],
      abortOnError: false,
    });
    await app.listen(0, '127.0.0.1');
    return new BotApp(app);
  }

  get http(): ReturnType<typeof request> {
    return request(this.app.getHttpServer());
  }

  /** POSTs an update to the webhook, with `secret` (default {@link TEST_SECRET}; null: no header). */
  webhook(update: object, secret: string | null = TEST_SECRET): request.Test {
    const req = this.http.post('/telegram/webhook').set('content-type', 'application/json');
    if (secret !== null) req.set('x-telegram-bot-api-secret-token', secret);
    return req.send(update);
  }

  get<T>(token: abstract new (...args: never[]) => T): T {
    return this.app.get(token as never, { strict: false }) as T;
  }

  /** The counters whose names start with `prefix`, as exposed on /metrics. */
  async metrics(prefix = 'bot_'): Promise<MetricSample> {
    const res = await this.http.get('/metrics').expect(200);
    const out: MetricSample = new Map();
    for (const line of res.text.split('\n')) {
      if (!line.startsWith(prefix)) continue;
      const at = line.lastIndexOf(' ');
      out.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
    return out;
  }

  async close(): Promise<void> {
    await this.app.close();
  }
}

/** `after - before` of one series (0 when absent). */
export function delta(before: MetricSample, after: MetricSample, series: string): number {
  return (after.get(series) ?? 0) - (before.get(series) ?? 0);
}

/** Sum of the deltas of every series of `name` (all label sets). */
export function deltaAll(before: MetricSample, after: MetricSample, name: string): number {
  let sum = 0;
  for (const [series, value] of after)
    if (series === name || series.startsWith(`${name}{`)) sum += value - (before.get(series) ?? 0);
  return sum;
}
