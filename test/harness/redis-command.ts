import { Redis } from 'ioredis';
import { withTimeout } from './with-timeout.js';

/** Options of {@link redisCommand}. */
export interface RedisCommandOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** Sent with HELLO/AUTH when set. @default undefined */
  password?: string;
  /** Budget for connect + handshake + command together. @default 2000 */
  timeoutMs?: number;
}

/**
 * Runs one command on a short-lived ioredis client and disconnects. Fails fast instead of hanging: no retries, no
 * reconnects, and one deadline over connect and command (ioredis's defaults would wait forever on a frozen server).
 *
 * @example
 * await redisCommand(server.port, ['DEBUG', 'SLEEP', 0.5], { timeoutMs: 200 }); // rejects after ~200 ms
 */
export async function redisCommand(
  port: number,
  args: readonly (string | number)[],
  options: RedisCommandOptions = {},
): Promise<unknown> {
  const [name, ...rest] = args;
  if (name === undefined) throw new TypeError('redisCommand: args must start with a command name');
  const host = options.host ?? '127.0.0.1';
  const timeoutMs = options.timeoutMs ?? 2000;
  const deadline = performance.now() + timeoutMs;
  const where = `redis ${String(name)} on ${host}:${port}`;
  let lastError: Error | undefined;
  const client = new Redis({
    host,
    port,
    password: options.password,
    lazyConnect: true,
    enableOfflineQueue: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    disconnectTimeout: 0,
  });
  // Without a listener ioredis prints "Unhandled error event"; the error also rejects connect/call below.
  client.on('error', (error: Error) => {
    lastError = error;
  });
  try {
    await withTimeout(client.connect(), timeoutMs, `${where}: connect`);
    const remaining = Math.max(1, deadline - performance.now());
    return await withTimeout(client.call(String(name), ...rest), remaining, where);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    const seen = lastError !== undefined && lastError.message !== detail ? ` (${lastError.message})` : '';
    throw new Error(`${where} failed: ${detail}${seen}`, { cause: error });
  } finally {
    client.disconnect();
  }
}
