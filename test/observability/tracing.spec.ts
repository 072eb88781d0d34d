// Tracing (issue "Real apps"): with `tracing: true`, cache operations add OpenTelemetry span events to the caller's
// active span — namespace, tier, operation, outcome, duration; never a key or a value — checked with the SDK's
// in-memory exporter on a real Redis; with tracing off, nothing is added.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Cached } from 'nestjs-tiercache';
import { RedisServer } from '../harness/redis-server.js';
import { bootApp } from '../drills/support/faults.js';

@Injectable()
class Accounts {
  @Cached({ namespace: 'account', key: (id: string) => id })
  async get(id: string): Promise<{ id: string; secret: string }> {
    return { id, secret: 'value-never-traced' };
  }
}

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
let redis: RedisServer;

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  redis = await RedisServer.start();
});
afterAll(async () => {
  trace.disable();
  context.disable();
  await redis?.stop();
});

async function traced(app: INestApplication, name: string): Promise<void> {
  const accounts = app.get(Accounts);
  await trace.getTracer('test').startActiveSpan(name, async (span) => {
    await accounts.get('acct-secret-id-7');
    await accounts.get('acct-secret-id-7');
    span.end();
  });
}

describe('tracing', () => {
  it('adds span events for cache operations on the active span, without keys or values', async () => {
    const app = await bootApp({ prefix: 'trace', redis: redis.url, tracing: true }, { providers: [Accounts] });
    try {
      exporter.reset();
      await traced(app, 'request');
      const span = exporter.getFinishedSpans().find((s) => s.name === 'request');
      const events = span?.events.map((e) => ({ name: e.name, ...e.attributes })) ?? [];
      expect(events).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            name: 'tiercache.get',
            'tiercache.namespace': 'account',
            'tiercache.outcome': 'miss',
          }),
          expect.objectContaining({ name: 'tiercache.set', 'tiercache.outcome': 'ok' }),
          expect.objectContaining({
            name: 'tiercache.get',
            'tiercache.tier': 'redis',
            'tiercache.outcome': 'hit',
            'tiercache.duration_ms': expect.any(Number),
          }),
        ]),
      );
      const text = JSON.stringify(events);
      expect(text).not.toContain('acct-secret-id-7');
      expect(text).not.toContain('value-never-traced');
    } finally {
      await app.close();
    }
  });

  it('adds nothing when tracing is off (the default)', async () => {
    const app = await bootApp({ prefix: 'notrace', redis: redis.url }, { providers: [Accounts] });
    try {
      exporter.reset();
      await traced(app, 'quiet');
      const span = exporter.getFinishedSpans().find((s) => s.name === 'quiet');
      expect(span?.events).toEqual([]);
    } finally {
      await app.close();
    }
  });
});
