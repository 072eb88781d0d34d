import { Logger } from '@nestjs/common';
import type { RedisClient } from '../../backends/redis/redis-client.factory.js';
import { isCluster, redact } from '../../backends/redis/redis-client.factory.js';
import type { RedisInfo } from './redis-info.parser.js';
import { mergeRedisInfo, parseRedisInfo } from './redis-info.parser.js';
import { LogMessages } from '../../errors/error-messages.js';

/**
 * Why Redis did not answer: not connected, no reply before the deadline, or an error reply (e.g. NOAUTH).
 * @example if (!ping.ok && ping.reason === 'timeout') ...
 */
export type RedisProbeFailure = 'unreachable' | 'timeout' | 'error';

/**
 * Outcome of a PING: its round trip, or a reason code (never an address or a message that could hold one).
 * @example const ping: RedisPingResult = await probe.ping(500);
 */
export type RedisPingResult = { ok: true; latencyMs: number } | { ok: false; reason: RedisProbeFailure };

class Deadline extends Error {}

function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Deadline()), ms);
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * PING and INFO on the cache's own Redis connection, each bounded by a deadline; never throws. A disconnected client
 * is reported at once (the cache's clients have no offline queue). Cluster: INFO is summed over the masters.
 * @example
 * const ping = await new RedisProbe(store.redis).ping(500); // { ok: true, latencyMs: 0.31 }
 */
export class RedisProbe {
  private readonly logger = new Logger('CacheRedisProbe');

  constructor(private readonly client: RedisClient) {}

  /** Sends PING; resolves with the round trip in milliseconds (two decimals) or why it failed. */
  async ping(timeoutMs: number): Promise<RedisPingResult> {
    if (this.client.status !== 'ready') return { ok: false, reason: 'unreachable' };
    const started = performance.now();
    try {
      await within(this.client.ping(), timeoutMs);
      return { ok: true, latencyMs: Math.round((performance.now() - started) * 100) / 100 };
    } catch (err) {
      return { ok: false, reason: this.classify(err) };
    }
  }

  /** Reads INFO (all sections the parser knows); undefined when Redis cannot answer in time. */
  async info(timeoutMs: number): Promise<RedisInfo | undefined> {
    if (this.client.status !== 'ready') return undefined;
    try {
      const servers = isCluster(this.client) ? this.client.nodes('master') : [this.client];
      const texts = await within(Promise.all(servers.map((server) => server.info())), timeoutMs);
      return mergeRedisInfo(texts.map((text) => parseRedisInfo(String(text))));
    } catch (err) {
      this.classify(err);
      return undefined;
    }
  }

  private classify(err: unknown): RedisProbeFailure {
    const message = err instanceof Error ? err.message : String(err);
    this.logger.debug(
      redact(LogMessages.backgroundFailed('redis probe', err instanceof Deadline ? 'deadline passed' : message)),
    );
    if (err instanceof Deadline || /timed out|timeout/i.test(message)) return 'timeout';
    return /writeable|closed|connect|ECONN|EPIPE|ENOTFOUND|EHOSTUNREACH/i.test(message) ? 'unreachable' : 'error';
  }
}
