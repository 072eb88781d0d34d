import { Cluster, Redis } from 'ioredis';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import type { ResolvedRedis } from '../../options/resolved-options.js';

/** A cache connection: standalone/Sentinel client or Cluster. */
export type RedisClient = Redis | Cluster;

/**
 * Whether a client is a Cluster — by shape, not `instanceof`: a client the user passes may come from another copy
 * (or major) of ioredis than tiercache's.
 */
export function isCluster(client: RedisClient): client is Cluster {
  return typeof (client as { nodes?: unknown }).nodes === 'function' && 'slots' in client;
}

/** Reconnect backoff: 100 ms, 200 ms, … capped at 1 s — quick recovery, never a tight loop. */
export const reconnectDelay = (attempt: number): number => Math.min(attempt * 100, 1_000);

/** A connection tiercache uses, and whether it made it (and so closes it). */
export interface CacheConnection {
  client: RedisClient;
  owned: boolean;
}

/**
 * Creates (or takes) an ioredis client tuned to fail fast, as a cache must: no offline queue (a command while
 * disconnected fails at once instead of waiting for a reconnect), a per-command timeout, no retry of a command, a
 * capped backoff and lazy connection (the module connects with a bounded wait at boot). `ioredis` options given by
 * the user apply over these; a client the user passes is taken as it is (its settings are checked by the caller).
 * `role` 'bus' asks for a second connection: a duplicate of the user's client, or a new one. The caller attaches
 * the 'error' listener.
 * @example const { client } = createRedisClient(resolved.redis, { commandTimeoutMs: 250, connectionName: 'bot:cache' });
 */
export function createRedisClient(
  config: ResolvedRedis,
  options: { commandTimeoutMs: number; connectionName: string; role?: 'main' | 'bus' },
): CacheConnection {
  if (config.mode === 'client') {
    if (typeof config.client === 'function') return { client: config.client(), owned: true };
    const given: RedisClient = config.client;
    if (options.role !== 'bus') return { client: given, owned: false };
    return { client: isCluster(given) ? given.duplicate() : given.duplicate(), owned: true };
  }
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
  const passthrough = config.ioredis ?? {};
  switch (config.mode) {
    case 'standalone':
      return {
        client: new Redis({ ...failFast, host: config.host, port: config.port, db: config.db, ...passthrough }),
        owned: true,
      };
    case 'sentinel':
      return {
        client: new Redis({
          ...failFast,
          sentinels: config.sentinels,
          name: config.name,
          db: config.db,
          sentinelRetryStrategy: reconnectDelay,
          // ioredis ignores `tls` for the data connection in Sentinel mode unless told, and talks to the sentinels
          // in clear: `tls` secures both (`ioredis: { sentinelTLS }` can set the sentinels' apart).
          ...(config.tls ? { enableTLSForSentinelMode: true, sentinelTLS: config.tls } : {}),
          ...(config.sentinelUsername !== undefined ? { sentinelUsername: config.sentinelUsername } : {}),
          ...(config.sentinelPassword !== undefined ? { sentinelPassword: config.sentinelPassword } : {}),
          ...passthrough,
        }),
        owned: true,
      };
    case 'cluster': {
      const { redisOptions, ...clusterPassthrough } = passthrough as { redisOptions?: RedisOptions };
      const clusterOptions: ClusterOptions = {
        enableOfflineQueue: false,
        lazyConnect: true,
        clusterRetryStrategy: reconnectDelay,
        // No auto-pipelining: a command waits, unsent and with no timer running, behind the in-flight pipeline of its
        // node, and ioredis retries a whole pipeline on CLUSTERDOWN / a closed connection past `commandTimeout`. With a
        // master SIGKILLed, calls then took up to 3.7 s instead of ≤ 2 × commandTimeout (test/topologies/cluster.spec.ts).
        enableAutoPipelining: false,
        slotsRefreshTimeout: config.connectTimeoutMs,
        ...clusterPassthrough,
        redisOptions: { ...failFast, ...redisOptions },
      };
      return { client: new Cluster(config.nodes, clusterOptions), owned: true };
    }
  }
}

/**
 * The settings of a client that would make cache calls hang or pile up (offline queue, no command timeout,
 * retries), each as the option to set — for a client tiercache did not configure itself.
 * @example failFastProblems(new Redis()) // ['enableOfflineQueue: false', 'commandTimeout: 250', ...]
 */
export function failFastProblems(client: RedisClient): string[] {
  const options = client.options as RedisOptions & ClusterOptions;
  const node: RedisOptions = isCluster(client) ? { ...options.redisOptions } : options;
  const problems: string[] = [];
  if (options.enableOfflineQueue !== false) problems.push('enableOfflineQueue: false');
  if (node.commandTimeout === undefined) problems.push('commandTimeout (e.g. 250)');
  if (node.maxRetriesPerRequest === undefined || node.maxRetriesPerRequest === null || node.maxRetriesPerRequest > 1)
    problems.push('maxRetriesPerRequest: 0 or 1');
  return problems;
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
