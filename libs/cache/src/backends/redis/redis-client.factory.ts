import { Cluster, Redis } from 'ioredis';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import type { ResolvedRedis } from '../../options/resolved-options.js';

/** A cache connection: standalone/Sentinel client or Cluster. */
export type RedisClient = Redis | Cluster;

/** Reconnect backoff: 100 ms, 200 ms, … capped at 1 s — quick recovery, never a tight loop. */
export const reconnectDelay = (attempt: number): number => Math.min(attempt * 100, 1_000);

/**
 * Creates an ioredis client tuned to fail fast, as a cache must: no offline queue (a command while disconnected
 * fails at once instead of waiting for a reconnect), a per-command timeout, no retry of a command, a capped backoff and
 * lazy connection (the module connects with a bounded wait at boot). The caller attaches the 'error' listener.
 * @example const client = createRedisClient(resolved.redis, { commandTimeoutMs: 250, connectionName: 'bot:cache' });
 */
export function createRedisClient(
  config: ResolvedRedis,
  options: { commandTimeoutMs: number; connectionName: string },
): RedisClient {
  const failFast: RedisOptions = {
    enableOfflineQueue: false,
    commandTimeout: options.commandTimeoutMs,
    // 0: a command in flight when the connection drops fails at once instead of waiting for a reconnect.
    maxRetriesPerRequest: 0,
    lazyConnect: true,
    connectTimeout: config.connectTimeoutMs,
    disconnectTimeout: 200,
    retryStrategy: reconnectDelay,
    connectionName: options.connectionName,
    enableReadyCheck: true,
    // Off: ioredis resubscribes with a promise nobody handles, so a reconnect cut right after its ready check raised an
    // unhandledRejection (test/topologies/subscriber-reconnect.spec.ts). The invalidation bus subscribes on 'ready'.
    autoResubscribe: false,
    ...(config.username !== undefined ? { username: config.username } : {}),
    ...(config.password !== undefined ? { password: config.password } : {}),
    ...(config.tls ? { tls: config.tls } : {}),
  };
  switch (config.mode) {
    case 'standalone':
      return new Redis({ ...failFast, host: config.host, port: config.port, db: config.db });
    case 'sentinel':
      return new Redis({
        ...failFast,
        sentinels: config.sentinels,
        name: config.name,
        db: config.db,
        sentinelRetryStrategy: reconnectDelay,
        ...(config.sentinelUsername !== undefined ? { sentinelUsername: config.sentinelUsername } : {}),
        ...(config.sentinelPassword !== undefined ? { sentinelPassword: config.sentinelPassword } : {}),
      });
    case 'cluster': {
      const clusterOptions: ClusterOptions = {
        enableOfflineQueue: false,
        lazyConnect: true,
        clusterRetryStrategy: reconnectDelay,
        // No auto-pipelining: a command waits, unsent and with no timer running, behind the in-flight pipeline of its
        // node, and ioredis retries a whole pipeline on CLUSTERDOWN / a closed connection past `commandTimeout`. With a
        // master SIGKILLed, calls then took up to 3.7 s instead of ≤ 2 × commandTimeout (test/topologies/cluster.spec.ts).
        enableAutoPipelining: false,
        slotsRefreshTimeout: config.connectTimeoutMs,
        redisOptions: failFast,
      };
      return new Cluster(config.nodes, clusterOptions);
    }
  }
}

/** Strips credentials from anything that may end up in a log line or an error message. */
export function redact(text: string): string {
  // A value after `password=` / `"password": ` goes; the words of a server reply ("WRONGPASS invalid
  // username-password pair") stay, so the cause of a failure remains readable.
  return text
    .replace(/\/\/[^/@\s]*@/g, '//***@')
    .replace(/(password|pass|auth)(["']?\s*[=:]\s*["']?)[^\s,"'}]+/gi, '$1$2***');
}

/**
 * Blanks the arguments of a failed AUTH / HELLO that ioredis keeps on its error objects (`err.command.args` holds the
 * password): the 'error' listener of a connection calls it first, so no later listener or log sees the secret.
 * @example client.on('error', (err) => { scrubCredentials(err); log(err.message); });
 */
export function scrubCredentials(err: unknown): void {
  const command = (err as { command?: { name?: unknown; args?: unknown } } | null | undefined)?.command;
  if (
    command &&
    typeof command.name === 'string' &&
    /^(auth|hello)$/i.test(command.name) &&
    Array.isArray(command.args)
  ) {
    command.args = command.args.map(() => '***');
  }
}
