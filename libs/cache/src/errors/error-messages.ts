/**
 * Every error message tiercache throws, in one place, so wording stays consistent and secrets never slip in: no
 * message quotes a cached value, a password or a URL with credentials.
 */
export const ErrorMessages = {
  invalidOption: (path: string, value: string, expected: string) =>
    `tiercache: invalid option "${path}" = ${value}: expected ${expected}.`,
  invalidDuration: (path: string, value: string) =>
    `tiercache: invalid option "${path}" = ${value}: expected milliseconds (a non-negative finite number) or a string like '500ms', '30s', '5m', '1h', '1d'.`,
  unserializableKey: (what: string) =>
    `tiercache: cannot build a cache key from ${what}; the call bypasses the cache. Give the decorator a \`key\` function.`,
  valueTooLarge: (namespace: string, bytes: number, max: number) =>
    `tiercache: value of ${bytes} bytes exceeds namespace "${namespace}" maxValueBytes (${max}); not cached.`,
  decodeFailed: (reason: string) => `tiercache: stored entry could not be decoded (${reason}); treated as a miss.`,
  unserializableValue: (what: string) => `tiercache: value cannot be serialized (${what}); not cached.`,
  misuse: (where: string, problem: string, fix: string) => `tiercache: ${where}: ${problem}. Fix: ${fix}`,
  backendUnavailable: (backend: string, reason: string) => `tiercache: ${backend} backend unavailable (${reason}).`,
  timeout: (backend: string, op: string, ms: number) => `tiercache: ${backend} ${op} timed out after ${ms} ms.`,
  budgetSpent: (backend: string, op: string) =>
    `tiercache: ${backend} ${op} not sent: the call's cache-I/O budget (commandTimeout) was already spent.`,
  loaderTimeout: (ms: number) => `tiercache: the loader did not answer within the hard timeout (${ms} ms); it was cut.`,
  badCacheName: (name: unknown) =>
    `tiercache: cache name ${typeof name === 'string' ? JSON.stringify(name.slice(0, 80)) : typeof name} must match /^[A-Za-z0-9_.-]{1,64}$/ and not start with "__".`,
  unknownCache: (name: string, known: readonly string[]) =>
    `no cache is named "${name}" (this app registers ${known.map((k) => `"${k}"`).join(', ') || 'none'})`,
  metricsWithoutCache: () =>
    'tiercache: CacheMetricsModule found no cache in the app. Fix: import CacheModule.forRoot(...) (any module, named or not).',
  unknownNamespace: (namespace: string) =>
    `tiercache: namespace "${namespace}" must match /^[A-Za-z0-9_.-]{1,64}$/ and not start with "__" (no ':' or glob characters).`,
  tracingPeerMissing: () =>
    'tiercache: invalid option "tracing" = true: expected @opentelemetry/api to be installed (npm i @opentelemetry/api), or tracing: false.',
  testingNotInitialized: () =>
    'tiercache: the app is not initialized: decorated methods cache only after `await app.init()` (or app.listen()); call it before exercising the app.',
  kindMismatch: (stored: 'list' | 'value') =>
    stored === 'list'
      ? 'tiercache: the entry is a list (written by setList/getOrSetList/append); read it with getList or getOrSetList. The list is kept.'
      : 'tiercache: the entry is a single value, not a list; read it with get or getOrSet. The entry is kept.',
  compatUnsupported: (option: string, why: string, fix: string) =>
    `tiercache: CacheModule.register option "${option}" ${why}. Fix: ${fix}`,
  compatConflict: (option: string, tiercacheOption: string) =>
    `tiercache: CacheModule.register options "${option}" and "tiercache.${tiercacheOption}" set the same thing; keep one.`,
  compatKey: (where: string, key: string) =>
    `tiercache: ${where}: the key ${key} is not a non-empty string (cache-manager keys are strings).`,
  resolverProblem: () =>
    'cache decorators on GraphQL resolver methods are not supported (the resolver may be bound before the cache can wrap it, so it would silently not cache)',
  resolverFix: () =>
    'move the cached logic into a provider (service) method, decorate that, and call it from the resolver',
} as const;

/** Every log line tiercache writes (warnings and notices), in one place; none carries a value or a credential. */
export const LogMessages = {
  redisOom: (operation: string) => `Redis refused a ${operation} (out of memory); answered from the source.`,
  operationFailed: (operation: string, namespace: string, reason: string) =>
    `cache ${operation} failed in namespace "${namespace}" (${reason}); answered from the source.`,
  replayFailed: (reason: string) => `replaying invalidations failed (${reason}); will retry when Redis is back.`,
  listenerThrew: (event: string, err: unknown) => `listener of ${event} threw: ${errorText(err)}`,
  notFailFast: (settings: string[]) =>
    `the Redis client tiercache was given would let cache calls wait or pile up while Redis is down or slow; set ${settings.join(', ')} on it (or let tiercache create its client).`,
  redisError: (role: string, cause: string) =>
    `Redis ${role === 'bus' ? 'bus connection' : 'connection'} error: ${cause} (retrying with backoff; the cache serves from the source meanwhile).`,
  redisDown: (reason: string) => `Redis connection lost (${reason}); serving from the source.`,
  noConnectionWithin: (ms: number) => `no connection within ${ms} ms, still trying`,
  redisUnreachableAtBoot: (reason: string) =>
    `Redis not reachable at boot (${reason}); serving from the source until it is.`,
  breakerOpened: (threshold: number, probeMs: number) =>
    `Redis circuit opened after ${threshold} consecutive failures; serving from the source, probing every ${probeMs} ms.`,
  nodeBreakerOpened: (node: string, threshold: number, probeMs: number) =>
    `Redis Cluster master ${node}: circuit opened after ${threshold} consecutive failures; keys of its slots are served from the source (other masters keep serving), probing it every ${probeMs} ms.`,
  clockSkew: (offsetMs: number) =>
    `Redis clock differs from this host's by ${Math.round(offsetMs)} ms; write deadlines are corrected for it.`,
  hygiene: (maxmemory: string | undefined, policy: string | undefined) =>
    `Redis maxmemory is ${maxmemory === '0' ? 'unset (0)' : maxmemory} with policy ${policy ?? 'unknown'}: when it fills up, writes fail (counted as refused) instead of evicting. Set maxmemory and an allkeys-lru/allkeys-lfu policy for a cache.`,
  staleServed: (namespace: string, reason: string) => `served a stale value in namespace "${namespace}" (${reason}).`,
  lateLoadFailed: (err: unknown) => `a load that timed out failed later: ${errorText(err)}`,
  refreshFailed: (namespace: string, err: unknown) => `background refresh failed in "${namespace}": ${errorText(err)}`,
  warmSkipped: (namespace: string, name: string, deployId: string) =>
    `warming of "${namespace}" (${name}) skipped: another instance did it for deploy ${deployId}.`,
  warmed: (namespace: string, written: number, ms: number, failed: number) =>
    `warmed ${written} entries into "${namespace}" in ${ms} ms${failed ? ` (${failed} not cached)` : ''}.`,
  warmerFailed: (name: string, err: unknown) => `warmer ${name} failed: ${errorText(err)}`,
  warmerFailedAtBoot: (name: string, err: unknown) =>
    `${name}: warming failed (${errorText(err)}); the cache fills on demand.`,
  bypass: (where: string, reason: string) => `${where}: ${reason}`,
  keyFunctionThrew: (err: unknown) => `key function threw: ${errorText(err)}`,
  eventKeyFailed: (where: string, event: string, err: unknown, namespace: string) =>
    `${where}: invalidateOn["${event}"] failed (${errorText(err)}); clearing namespace "${namespace}".`,
  syncMethod: (where: string) =>
    `${where} is synchronous (it returned a value, not a Promise), so it cannot be cached: it now runs uncached and keeps its return type. Make it async (or return a Promise) to cache it.`,
  memoryIndexLarge: (maxEntries: number, indexBytes: number, maxBytes: number) =>
    `memory.maxEntries ${maxEntries} costs ~${Math.round(indexBytes / 1048576)} MiB of index on its own, more than half of memory.maxBytes (${Math.round(maxBytes / 1048576)} MiB): little is left for values. Lower memory.maxEntries or raise memory.maxBytes.`,
  callerDependentNotCached: (route: string, credential: string) =>
    `${route}: the request carries ${credential}, so its response may depend on the caller; it was not cached. Mark the route @CacheScope('public') if the response is the same for every caller, or @CacheScope((ctx) => callerIdOf(ctx)) to cache one copy per caller.`,
  compatSetFailed: (key: string, err: unknown) =>
    `An error has occurred when inserting "key: ${key}": ${errorText(err)}`,
  compatNonBlockingFailed: (op: string, err: unknown) => `a non-blocking ${op} failed: ${errorText(err)}`,
  backgroundFailed: (what: string, err: unknown) => `${what} failed: ${errorText(err)}`,
  gaugesNotRefreshed: (reason: string) => `Redis gauges not refreshed: ${reason}`,
  notInitialized: () =>
    'a cache decorator was found but the app is not initialized: decorated methods cache only after app.init() (or app.listen()).',
} as const;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
