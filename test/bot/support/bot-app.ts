import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import request from 'supertest';
import { AppModule } from '../../../apps/bot/src/app.module.js';

/** Counters of /metrics, by full series (`name{labels}`). */
export type MetricSample = Map<string, number>;

/**
 * The bot on a real HTTP server (port 0), configured only from `env` (never from process.env or .env).
 * @example const bot = await BotApp.start({ DATABASE_URL: db.url, REDIS_URL: redis.url });
 */
export class BotApp {
  private constructor(readonly app: INestApplication) {}

  static async start(env: Record<string, string | undefined>): Promise<BotApp> {
    const app = await NestFactory.create(AppModule.forRoot({ env }), {
      logger: ['error', 'warn'],
      abortOnError: false,
    });
    await app.listen(0, '127.0.0.1');
    return new BotApp(app);
  }

  get http(): ReturnType<typeof request> {
    return request(this.app.getHttpServer());
  }

  /** POSTs an update to the webhook. */
  webhook(update: object, secret?: string): request.Test {
    const req = this.http.post('/telegram/webhook').set('content-type', 'application/json');
    if (secret !== undefined) req.set('x-telegram-bot-api-secret-token', secret);
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
