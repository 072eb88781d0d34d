import { describe, expect, it } from '@jest/globals';
import { mergeRedisInfo, parseRedisInfo } from './redis-info.parser.js';

const SAMPLE = [
  '# Server',
  'redis_version:7.0.15',
  'uptime_in_seconds:42',
  '',
  '# Clients',
  'connected_clients:3',
  '# Memory',
  'used_memory:1048576',
  'used_memory_human:1.00M',
  'maxmemory:0',
  '# Stats',
  'keyspace_hits:10',
  'keyspace_misses:4',
  'evicted_keys:0',
  '# Keyspace',
  'db0:keys=5,expires=2,avg_ttl=1000',
  'db3:keys=7,expires=0,avg_ttl=0',
].join('\r\n');

describe('parseRedisInfo', () => {
  it('reads the fields the observability code uses and sums keys over databases', () => {
    expect(parseRedisInfo(SAMPLE)).toEqual({
      usedMemoryBytes: 1048576,
      maxMemoryBytes: 0,
      connectedClients: 3,
      uptimeSeconds: 42,
      keyspaceHits: 10,
      keyspaceMisses: 4,
      evictedKeys: 0,
      keys: 12,
    });
  });

  it('tolerates empty, partial and malformed text', () => {
    expect(parseRedisInfo('')).toEqual({
      usedMemoryBytes: undefined,
      maxMemoryBytes: undefined,
      connectedClients: undefined,
      uptimeSeconds: undefined,
      keyspaceHits: undefined,
      keyspaceMisses: undefined,
      evictedKeys: undefined,
      keys: 0,
    });
    const info = parseRedisInfo('garbage\n:nothing\nused_memory:lots\nconnected_clients:2\ndb0:weird');
    expect(info.usedMemoryBytes).toBeUndefined();
    expect(info.connectedClients).toBe(2);
    expect(info.keys).toBe(0);
  });
});

describe('mergeRedisInfo', () => {
  it('adds counts across cluster masters and keeps the lowest uptime', () => {
    const a = parseRedisInfo('uptime_in_seconds:100\nused_memory:10\ndb0:keys=1,expires=0');
    const b = parseRedisInfo('uptime_in_seconds:7\nused_memory:5\nconnected_clients:2\ndb0:keys=2,expires=0');
    const merged = mergeRedisInfo([a, b]);
    expect(merged).toMatchObject({ uptimeSeconds: 7, usedMemoryBytes: 15, connectedClients: 2, keys: 3 });
    expect(merged.keyspaceHits).toBeUndefined();
  });
});
