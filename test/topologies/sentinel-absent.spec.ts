/**
 * Drill 4 on Sentinel: no sentinel answers at boot. ioredis keeps retrying the sentinels and its connect() never
 * settles, which held app.init() forever. Bar: the app boots (the wait is bounded by connectTimeout + 1 s; asserted
 * semantically — it boots at all — with a generous limit), serves from the source, says why at warn, and the cache
 * comes up by itself once a sentinel answers.
 */
import { afterAll, describe, expect, it, jest } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { CacheService } from 'nestjs-tiercache';
import { bootApp, CollectingLogger } from '../drills/support/faults.js';
import { freePort } from '../harness/free-port.js';
import { waitFor } from '../harness/wait-for.js';
import { withTimeout } from '../harness/with-timeout.js';
import { SentinelProcess, SentinelTopology } from './support/sentinel.js';

jest.setTimeout(90_000);

let topo: SentinelTopology | undefined;
let late: SentinelProcess | undefined;
let app: INestApplication | undefined;
afterAll(async () => {
  await app?.close();
  await late?.stop();
  await topo?.stop();
});

describe('Sentinel absent at boot', () => {
  it('the app boots, answers from the source, names the cause, and the cache comes up when a sentinel does', async () => {
    topo = await SentinelTopology.start({ sentinels: 1, quorum: 1 });
    // A sentinel port nothing listens on yet: the only one the app is given.
    const port = await freePort();
    const log = new CollectingLogger();
    app = await withTimeout(
      bootApp(
        {
          prefix: 'absent',
          redis: { sentinels: [{ host: '127.0.0.1', port }], name: topo.name, connectTimeout: '1s' },
        },
        { logger: log },
      ),
      30_000,
      'app.init() with no sentinel answering',
    );
    const cache = app.get(CacheService);
    expect(await cache.getOrSet('ns', 'k', () => 'source')).toBe('source');
    expect(log.matching(/not reachable at boot/, 'warn')).toHaveLength(1);
    expect(cache.stats().redisConnected).toBe(false);

    late = await SentinelProcess.start(port, {
      name: topo.name,
      host: '127.0.0.1',
      port: topo.primary.port,
      quorum: 1,
      downAfterMs: 1_000,
      failoverTimeoutMs: 3_000,
    });
    await waitFor(() => cache.stats().redisConnected === true, { timeoutMs: 20_000, message: 'the cache to come up' });
    await waitFor(async () => (await cache.set('ns', 'later', 'v')) === true, {
      timeoutMs: 10_000,
      message: 'a write to land',
    });
    expect(await topo.primary.command('EXISTS', 'absent:ns:later')).toBe(1);
  });
});
