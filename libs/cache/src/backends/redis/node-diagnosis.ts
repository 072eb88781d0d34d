import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';

/** What ioredis says when a connection closed, whatever closed it. */
const CLOSED = 'Connection is closed.';

/** The last node's error of a Cluster error that says only that every node failed. */
export function lastNodeError(err: Error): Error | undefined {
  const last = (err as { lastNodeError?: unknown }).lastNodeError;
  return last instanceof Error ? last : undefined;
}

/**
 * True when ioredis reported that no node (Cluster) or no sentinel answered but not why: its slot refresh and its
 * sentinel lookups connect through clients that swallow the socket's error, so a TLS verification failure reads
 * "Connection is closed.".
 */
export function causeUnknown(err: Error): boolean {
  return lastNodeError(err)?.message === CLOSED || /unreachable.*Connection is closed\.$/.test(err.message);
}

/**
 * Finds why a node cannot be reached: connects one plain client to it with the same options (TLS, credentials)
 * and resolves with the first error it reports — undefined if it connected. Bounded by `timeoutMs`; the client is
 * always closed.
 * @example const why = await diagnoseNode({ tls: { ca } }, { host: '10.0.0.1', port: 6379 }, 2000);
 */
export async function diagnoseNode(
  options: RedisOptions,
  node: { host: string; port: number },
  timeoutMs: number,
): Promise<Error | undefined> {
  const probe = new Redis({
    ...options,
    host: node.host,
    port: node.port,
    lazyConnect: true,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    connectTimeout: timeoutMs,
  });
  let first: Error | undefined;
  probe.on('error', (err: Error) => {
    first ??= err;
  });
  try {
    await probe.connect();
  } catch (err) {
    first ??= err as Error;
  } finally {
    probe.disconnect();
  }
  return first;
}
