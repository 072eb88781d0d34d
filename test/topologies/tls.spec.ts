/**
 * TLS on Redis Cluster and on Sentinel (issue #16), with a throwaway CA made by the test with `openssl`. Every node
 * (and sentinel) keeps a plain port for the harness; the app is only given TLS ports, and on Cluster the TLS CLUSTER
 * SLOTS reply routes it to TLS ports only. Bar:
 * - the cache works over TLS: a value written is read back from Redis (no second load), on every master;
 * - a CA that did not sign the server certificate, or a wrong password: the app boots and answers from the source,
 *   the warn log names the cause (certificate / WRONGPASS), and neither the PEM nor the password appears in any log;
 * - a PEM string given as `redis.tls` (a mistake) is refused at boot without echoing it.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { CacheService } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { resolveOptions } from '../../libs/cache/src/options/options.resolver.js';
import { bootApp, CollectingLogger } from '../drills/support/faults.js';
import { waitFor } from '../harness/wait-for.js';
import { makeTestCertificates } from './support/certificates.js';
import type { TestCertificates } from './support/certificates.js';
import { LocalCluster, scanNode } from './support/cluster.js';
import { SentinelTopology } from './support/sentinel.js';

jest.setTimeout(120_000);

const PASSWORD = 'tls-topology-s3cret';
const WRONG_PASSWORD = 'not-the-password-42';

let certs: TestCertificates;
let cluster: LocalCluster | undefined;
let sentinel: SentinelTopology | undefined;
const apps: INestApplication[] = [];

beforeAll(async () => {
  certs = await makeTestCertificates();
}, 30_000);

afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await cluster?.stop();
  await sentinel?.stop();
  await certs?.remove();
});

/** The base64 body lines of a PEM: none may appear in a log. */
function pemLines(pem: string): string[] {
  return pem.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));
}

async function boot(
  redis: CacheModuleOptions['redis'],
  prefix: string,
): Promise<{ cache: CacheService; log: CollectingLogger }> {
  const log = new CollectingLogger();
  // A generous command timeout: what is tested is TLS, not timeouts (a loaded machine's first TLS handshakes are slow).
  const app = await bootApp({ prefix, redis, commandTimeout: '2s' }, { logger: log });
  apps.push(app);
  return { cache: app.get(CacheService), log };
}

/** 30 keys loaded, then read again: how many loads each pass took. */
async function twoPasses(cache: CacheService): Promise<[number, number]> {
  let loads = 0;
  const pass = async (): Promise<void> => {
    for (let i = 0; i < 30; i++) {
      const got = await cache.getOrSet('tls', `k${i}`, () => {
        loads++;
        return `v${i}`;
      });
      expect(got).toBe(`v${i}`);
    }
  };
  await pass();
  const first = loads;
  await pass();
  return [first, loads - first];
}

/** The cache answers from the source, and the warn log names the cause without the secrets. */
async function expectCauseLogged(
  cache: CacheService,
  log: CollectingLogger,
  cause: RegExp,
  secrets: string[],
): Promise<void> {
  expect(await cache.getOrSet('tls', 'fallback', () => 'source')).toBe('source');
  await waitFor(() => log.matching(cause, 'warn').length > 0, {
    timeoutMs: 15_000,
    message: `a warning ${cause}`,
  }).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; logged:\n${log.text}`);
  });
  for (const secret of secrets) expect(log.text).not.toContain(secret);
  // Once per cause, not once per reconnect attempt (ioredis's sentinel error names its growing backoff delay).
  expect(log.matching(/Redis connection error/, 'warn').length).toBeLessThanOrEqual(3);
}

describe('Redis Cluster over TLS (3 masters, tls-cluster, password)', () => {
  beforeAll(async () => {
    cluster = await LocalCluster.start({ tls: certs.files, password: PASSWORD });
  }, 60_000);

  it('the cache works over TLS on every master: a second read is a Redis hit', async () => {
    const { cache, log } = await boot(
      { cluster: { nodes: cluster!.seeds }, password: PASSWORD, tls: { ca: certs.ca } },
      'tlsc',
    );
    await waitFor(() => cache.stats().redisConnected === true, { timeoutMs: 10_000, message: 'Redis up over TLS' });
    expect(await twoPasses(cache)).toEqual([30, 0]);
    const perNode = await Promise.all(cluster!.nodes.map(async (n) => (await scanNode(n, 'tlsc:tls:*')).length));
    expect(perNode.filter((n) => n > 0)).toHaveLength(3);
    expect(log.matching(/connection error|not reachable|failed in namespace/i, 'warn')).toEqual([]);
  });

  it('a CA that did not sign the server certificate: answers from the source, the cause at warn, no PEM echoed', async () => {
    const { cache, log } = await boot(
      { cluster: { nodes: cluster!.seeds }, password: PASSWORD, tls: { ca: certs.wrongCa } },
      'tlsc-wrong-ca',
    );
    await expectCauseLogged(cache, log, /certificate/i, [...pemLines(certs.wrongCa), PASSWORD]);
  });

  it('a wrong password: answers from the source, WRONGPASS at warn, the password nowhere', async () => {
    const { cache, log } = await boot(
      { cluster: { nodes: cluster!.seeds }, password: WRONG_PASSWORD, tls: { ca: certs.ca } },
      'tlsc-wrong-pass',
    );
    await expectCauseLogged(cache, log, /WRONGPASS/, [WRONG_PASSWORD, PASSWORD]);
  });
});

describe('Sentinel over TLS (primary + replica + 3 sentinels, all TLS, password)', () => {
  beforeAll(async () => {
    sentinel = await SentinelTopology.start({ tls: certs.files, password: PASSWORD });
  }, 60_000);

  const options = (password: string, ca: string): CacheModuleOptions['redis'] => ({
    sentinels: sentinel!.sentinelNodes,
    name: sentinel!.name,
    password,
    tls: { ca },
  });

  it('the cache works over TLS: a second read is a Redis hit, and after a failover on the promoted replica', async () => {
    const { cache } = await boot(options(PASSWORD, certs.ca), 'tlss');
    await waitFor(() => cache.stats().redisConnected === true, { timeoutMs: 10_000, message: 'Redis up over TLS' });
    expect(await twoPasses(cache)).toEqual([30, 0]);
    expect(await sentinel!.primary.command('EXISTS', 'tlss:tls:k0')).toBe(1);

    await sentinel!.killPrimaryAndAwaitFailover();
    await waitFor(async () => (await cache.set('tls', 'after-failover', 'x')) === true, {
      timeoutMs: 20_000,
      intervalMs: 100,
      message: 'writes to land on the promoted replica over TLS',
    });
    expect(await sentinel!.primary.command('EXISTS', 'tlss:tls:after-failover')).toBe(1);
  });

  it('a CA that did not sign the server certificate: answers from the source, the cause at warn, no PEM echoed', async () => {
    const { cache, log } = await boot(options(PASSWORD, certs.wrongCa), 'tlss-wrong-ca');
    await expectCauseLogged(cache, log, /certificate/i, [...pemLines(certs.wrongCa), PASSWORD]);
  });

  it('a wrong password: answers from the source, WRONGPASS at warn, the password nowhere', async () => {
    const { cache, log } = await boot(options(WRONG_PASSWORD, certs.ca), 'tlss-wrong-pass');
    await expectCauseLogged(cache, log, /WRONGPASS/, [WRONG_PASSWORD, PASSWORD]);
  });
});

describe('a PEM string given as redis.tls is refused at boot without echoing it', () => {
  it.each([
    ['Cluster', (pem: string) => ({ cluster: { nodes: [{ host: '127.0.0.1', port: 1 }] }, tls: pem })],
    ['Sentinel', (pem: string) => ({ sentinels: [{ host: '127.0.0.1', port: 1 }], name: 'm', tls: pem })],
  ])('%s', (_name, redis) => {
    let message = '';
    try {
      resolveOptions({ redis: redis(certs.ca) } as never);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('redis.tls');
    for (const line of pemLines(certs.ca)) expect(message).not.toContain(line);
    expect(message).not.toContain('BEGIN CERTIFICATE');
  });
});
