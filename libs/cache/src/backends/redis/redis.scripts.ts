import type { RedisClient } from './redis-client.factory.js';

// The Lua scripts: each touches exactly one key (KEYS[1]), so every one of them is Cluster-safe — but for the fenced
// forms of a load's write, which standalone and Sentinel use (three keys, see FENCE).
// Writes carry a deadline (`notAfter`, in Redis server time): a write that reaches Redis late — it sat in a socket
// while the server was frozen, and its caller has long given up — is refused instead of executed.
const LATE = `
local function late(notAfter)
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > tonumber(notAfter)
end
`;

// RPUSH of ARGV[from..] in slices: one unpack() of more than ~8,000 values overflows Lua's C stack
// ("too many results to unpack"), so long lists are pushed 1,000 items at a time.
const PUSH_FROM = `
local function pushFrom(key, from)
  for i = from, #ARGV, 1000 do
    redis.call('RPUSH', key, unpack(ARGV, i, math.min(i + 999, #ARGV)))
  end
end
`;

/** Unconditional SET (write-through) with a deadline: ARGV = value, ttl, notAfter. */
const SET_FRESH = `${LATE}
if late(ARGV[3]) then return -1 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

/**
 * SET only if the key is still in the state a read saw: absent (ARGV[3] = ''), the same tombstone, or — with
 * ARGV[5] = 'live' — the same entry, named by its envelope times (bytes 3–18: createdAt, expiresAt; stamped or not).
 */
const GUARDED_SET = `${LATE}
if late(ARGV[6]) then return -1 end
local cur = redis.call('GET', KEYS[1])
-- An empty string is never ours: reads take it as absent, so the write replaces it.
if cur == '' then cur = false end
if ARGV[5] == 'live' then
  if not cur or string.byte(cur, 1) ~= 84 or string.byte(cur, 2) == 0 or string.sub(cur, 3, 18) ~= ARGV[3] then
    return 0
  end
elseif cur then
  if string.sub(cur, 1, 2) ~= ARGV[4] or cur ~= ARGV[3] then return 0 end
elseif ARGV[3] ~= '' then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

/**
 * The fenced form of a load's write (standalone and Sentinel; Cluster checks after writing, the keys sit on other
 * masters): KEYS[2] is the namespace's load fence, KEYS[3] the tags' fence, and the first two ARGV what the load read
 * of them before its loader ran ('' absent; '*' for the tags' fence: not checked, an untagged write). Either changed:
 * a prefix clear or a tag invalidation ran meanwhile, and the loaded value may predate it — nothing is written. Both
 * are taken off ARGV, so the body that follows reads its own arguments unchanged.
 */
const FENCE = `
local function fenceOf(k)
  local v = redis.pcall('GET', k)
  if v == false then return '' end
  if type(v) ~= 'string' then return '!' end
  return v
end
local wantNs = table.remove(ARGV, 1)
local wantTags = table.remove(ARGV, 1)
if fenceOf(KEYS[2]) ~= wantNs or (wantTags ~= '*' and fenceOf(KEYS[3]) ~= wantTags) then return 0 end
`;

/** Compare-and-set for update-in-place: replace only if the bytes are those we read; keep the TTL. */
const COMPARE_AND_SET = `${LATE}
if late(ARGV[3]) then return -1 end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1`;

/**
 * The generation of a tag for a write (KEYS[1]: the tag's generation key): created with ARGV[1] when absent (or
 * when an older version left another type there: unlinked, freed in the background), its life extended to cover
 * the entry's (ARGV[2] ms). O(1) whatever the number of entries.
 */
const TAG_STAMP = `
local g = false
if redis.call('TYPE', KEYS[1]).ok == 'string' then g = redis.call('GET', KEYS[1]) end
if not g then
  redis.call('UNLINK', KEYS[1])
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return g`;

/**
 * Indexes an entry under a tag (KEYS[1]: the tag's sorted set, score = the entry's deadline), for the physical
 * cleanup of an invalidation. Bounded work and size: at most 64 members past their deadline (ARGV[3]) are pruned
 * per write, and an index of ARGV[5] members takes no new one: 0 then (the entry is stamped unindexed, and readers
 * check its generation with Redis). ARGV = member, deadline, now, ttl, cap.
 */
const TAG_INDEX = `
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[3], 'LIMIT', 0, 64)
if #expired > 0 then redis.call('ZREM', KEYS[1], unpack(expired)) end
local indexed = 1
if redis.call('ZCARD', KEYS[1]) > tonumber(ARGV[5]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  indexed = 0
end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return indexed`;

/** Reads a list entry: {1, items...} for a list; {0, value} for a string (tombstone or poison); {0} when absent. */
const LIST_READ = `
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'list' then return {1, redis.call('LRANGE', KEYS[1], 0, -1)} end
if t == 'string' then return {0, redis.call('GET', KEYS[1])} end
if t == 'none' then return {0} end
return {2}`;

/**
 * Replaces a list: ARGV = ttl, guard ('' absent | tombstone | '*' unconditional), tombstone magic, notAfter,
 * header, items… The header (index 0) marks the list as ours and lets an empty history be a hit.
 */
const LIST_WRITE = `${LATE}${PUSH_FROM}
if late(ARGV[4]) then return -1 end
local guard = ARGV[2]
if guard ~= '*' then
  local t = redis.call('TYPE', KEYS[1]).ok
  if t == 'string' then
    local cur = redis.call('GET', KEYS[1])
    if string.sub(cur, 1, 2) ~= ARGV[3] or cur ~= guard then return 0 end
  elseif t == 'none' then
    if guard ~= '' then return 0 end
  elseif t == 'list' then
    return 0
  end
end
redis.call('DEL', KEYS[1])
pushFrom(KEYS[1], 5)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`;

/**
 * Appends to a cached list only; trims to the last ARGV[1] items while keeping the header; slides the TTL.
 * ARGV = maxLength, ttl, notAfter, items…
 */
const LIST_APPEND = `${LATE}${PUSH_FROM}
if late(ARGV[3]) then return -1 end
if redis.call('TYPE', KEYS[1]).ok ~= 'list' then return 0 end
pushFrom(KEYS[1], 4)
local n = redis.call('LLEN', KEYS[1])
local max = tonumber(ARGV[1])
if n - 1 > max then
  local head = redis.call('LINDEX', KEYS[1], 0)
  redis.call('LTRIM', KEYS[1], n - max, -1)
  redis.call('LPUSH', KEYS[1], head)
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/** Releases a lease only if the caller still holds it. */
const LEASE_RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

type Arg = string | number | Buffer;

/** tcGuardedSet's arguments after the key. */
type GuardedSetArgs = [value: Buffer, ttlMs: number, expected: Arg, magic: Buffer, mode: '' | 'live', notAfter: number];
/** tcListWrite's arguments after the key. */
type ListWriteArgs = [ttlMs: number, guard: Arg, magic: Buffer, notAfter: number, ...items: Buffer[]];
/** What a fenced form takes after the key: the two fence keys and what the load read of them ({@link FENCE}). */
type FenceArgs = [namespaceFence: string, tagFence: string, wantNamespace: string, wantTags: string];

/** The scripts as typed methods (ioredis defineCommand adds them at runtime, EVALSHA with EVAL fallback). */
export interface CacheScripts {
  tcSetFresh(key: string, value: Buffer, ttlMs: number, notAfter: number): Promise<number>;
  tcGuardedSet(key: string, ...args: GuardedSetArgs): Promise<number>;
  /** {@link FENCE} + GUARDED_SET. */
  tcGuardedSetFenced(key: string, ...args: [...FenceArgs, ...GuardedSetArgs]): Promise<number>;
  tcCompareAndSet(key: string, expected: Buffer, next: Buffer, notAfter: number): Promise<number>;
  tcLeaseRelease(key: string, holder: string): Promise<number>;
  tcTagStamp(tagKey: string, candidate: string, ttlMs: number): Promise<string>;
  tcTagIndex(
    indexKey: string,
    member: string,
    deadline: number,
    now: number,
    ttlMs: number,
    cap: number,
  ): Promise<number>;
  tcListReadBuffer(key: string): Promise<[number, ...unknown[]]>;
  tcListWrite(key: string, ...args: ListWriteArgs): Promise<number>;
  /** {@link FENCE} + LIST_WRITE. */
  tcListWriteFenced(key: string, ...args: [...FenceArgs, ...ListWriteArgs]): Promise<number>;
  tcListAppend(key: string, maxLength: number, ttlMs: number, notAfter: number, ...items: Buffer[]): Promise<number>;
}

/** Registers the scripts on a client (Cluster included) and returns it typed. */
export function defineScripts(client: RedisClient): RedisClient & CacheScripts {
  const scripts: Record<string, string> = {
    tcSetFresh: SET_FRESH,
    tcLeaseRelease: LEASE_RELEASE,
    tcGuardedSet: GUARDED_SET,
    tcCompareAndSet: COMPARE_AND_SET,
    tcTagStamp: TAG_STAMP,
    tcTagIndex: TAG_INDEX,
    tcListRead: LIST_READ,
    tcListWrite: LIST_WRITE,
    tcListAppend: LIST_APPEND,
  };
  for (const [name, lua] of Object.entries(scripts)) client.defineCommand(name, { numberOfKeys: 1, lua });
  // Three keys (the entry and two fences): never sent to a Cluster, where they would sit on other masters.
  client.defineCommand('tcGuardedSetFenced', { numberOfKeys: 3, lua: FENCE + GUARDED_SET });
  client.defineCommand('tcListWriteFenced', { numberOfKeys: 3, lua: FENCE + LIST_WRITE });
  return client as RedisClient & CacheScripts;
}
