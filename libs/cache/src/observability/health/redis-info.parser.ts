/**
 * The fields of Redis INFO the health check, the stats and the gauges use. Absent fields are undefined.
 * @example const info: RedisInfo = parseRedisInfo(await client.info());
 */
export interface RedisInfo {
  usedMemoryBytes: number | undefined;
  maxMemoryBytes: number | undefined;
  connectedClients: number | undefined;
  uptimeSeconds: number | undefined;
  keyspaceHits: number | undefined;
  keyspaceMisses: number | undefined;
  evictedKeys: number | undefined;
  /** Keys of every database (`# Keyspace`, `dbN:keys=…`), summed. */
  keys: number;
}

function numeric(fields: ReadonlyMap<string, string>, name: string): number | undefined {
  const raw = fields.get(name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

/**
 * Parses the text of Redis `INFO` (any sections; CRLF or LF; unknown or malformed lines are skipped).
 * @example parseRedisInfo('# Memory\r\nused_memory:1024\r\n').usedMemoryBytes // 1024
 */
export function parseRedisInfo(text: string): RedisInfo {
  const fields = new Map<string, string>();
  let keys = 0;
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1);
    if (/^db\d+$/.test(name)) {
      const match = /(?:^|,)keys=(\d+)/.exec(value);
      if (match?.[1] !== undefined) keys += Number(match[1]);
      continue;
    }
    fields.set(name, value);
  }
  return {
    usedMemoryBytes: numeric(fields, 'used_memory'),
    maxMemoryBytes: numeric(fields, 'maxmemory'),
    connectedClients: numeric(fields, 'connected_clients'),
    uptimeSeconds: numeric(fields, 'uptime_in_seconds'),
    keyspaceHits: numeric(fields, 'keyspace_hits'),
    keyspaceMisses: numeric(fields, 'keyspace_misses'),
    evictedKeys: numeric(fields, 'evicted_keys'),
    keys,
  };
}

const sum = (values: (number | undefined)[]): number | undefined =>
  values.every((v) => v === undefined) ? undefined : values.reduce<number>((acc, v) => acc + (v ?? 0), 0);

/**
 * Combines the INFO of several servers (the masters of a Cluster): counts and bytes add up, uptime is the lowest.
 * @example mergeRedisInfo([parseRedisInfo(a), parseRedisInfo(b)]).keys
 */
export function mergeRedisInfo(infos: readonly RedisInfo[]): RedisInfo {
  const uptimes = infos.map((i) => i.uptimeSeconds).filter((v): v is number => v !== undefined);
  return {
    usedMemoryBytes: sum(infos.map((i) => i.usedMemoryBytes)),
    maxMemoryBytes: sum(infos.map((i) => i.maxMemoryBytes)),
    connectedClients: sum(infos.map((i) => i.connectedClients)),
    uptimeSeconds: uptimes.length === 0 ? undefined : Math.min(...uptimes),
    keyspaceHits: sum(infos.map((i) => i.keyspaceHits)),
    keyspaceMisses: sum(infos.map((i) => i.keyspaceMisses)),
    evictedKeys: sum(infos.map((i) => i.evictedKeys)),
    keys: infos.reduce((acc, i) => acc + i.keys, 0),
  };
}
