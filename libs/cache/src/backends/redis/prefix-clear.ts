import type { Redis } from 'ioredis';
import type { RedisClient } from './redis-client.factory.js';
import { isCluster } from './redis-client.factory.js';

/**
 * Removes every key starting with a server-built prefix: SCAN MATCH (the prefix's glob characters escaped, so it
 * matches only itself) + UNLINK of each batch (one command off Cluster, one per key on Cluster), on every master.
 * Never KEYS; no command blocks Redis long.
 * @example await clearPrefix(client, 'bot:user:', 100) // how many keys went
 */
export async function clearPrefix(client: RedisClient, keyPrefix: string, batch: number): Promise<number> {
  const match = `${escapeGlob(keyPrefix)}*`;
  const nodes: Redis[] = isCluster(client) ? client.nodes('master') : [client];
  // Off Cluster every key is in the one keyspace: one UNLINK per batch. On Cluster one per key (keys from one scan
  // may sit in different slots, and Cluster forbids cross-slot commands).
  const oneCommand = !isCluster(client);
  const counts = await Promise.all(nodes.map((node) => clearOnNode(node, match, batch, oneCommand)));
  return counts.reduce((a, b) => a + b, 0);
}

async function clearOnNode(node: Redis, match: string, batch: number, oneCommand: boolean): Promise<number> {
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', batch);
    cursor = next;
    if (keys.length > 0 && oneCommand) {
      count += await node.unlink(...keys);
    } else if (keys.length > 0) {
      const pipeline = node.pipeline();
      for (const key of keys) pipeline.unlink(key);
      const results = (await pipeline.exec()) ?? [];
      for (const [err, removed] of results) if (!err) count += Number(removed);
    }
  } while (cursor !== '0');
  return count;
}

/** Escapes Redis glob metacharacters so a server-built prefix matches only itself. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\^-]/g, (c) => `\\${c}`);
}
