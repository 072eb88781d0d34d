import type { Ttl } from './cache-options.interface.js';
import type { LeaseOptions } from './cache-options.interface.js';
import { parseDuration } from './duration.js';
import type { ResolvedLease, ResolvedNamespace, ResolvedTtl } from './resolved-options.js';

/** Per-call (or per-decorator) overrides of a namespace's loading settings. */
export interface LoadOverrides {
  ttl?: Ttl;
  cacheNull?: boolean;
  grace?: number | string;
  softTimeout?: number | string;
  hardTimeout?: number | string;
  eagerRefresh?: number;
  lease?: boolean | LeaseOptions;
}

/** Everything a load of one namespace needs, resolved once (at boot for decorators). */
export interface LoadPolicy {
  namespace: string;
  ttl: ResolvedTtl;
  jitter: number;
  maxValueBytes: number;
  graceMs: number;
  softTimeoutMs: number | undefined;
  hardTimeoutMs: number | undefined;
  eagerRefresh: number | undefined;
  lease: ResolvedLease | undefined;
  cacheNull: boolean;
}

/**
 * Merges a namespace's resolved settings with call-level overrides (validated; errors name the option).
 * @example resolvePolicy('user', ns, { ttl: '5m' }, true).ttl // 300000
 */
export function resolvePolicy(
  namespace: string,
  ns: ResolvedNamespace,
  overrides: LoadOverrides | undefined,
  cacheNull: boolean,
): LoadPolicy {
  const o = overrides ?? {};
  const ttl: ResolvedTtl =
    o.ttl === undefined
      ? ns.ttl
      : typeof o.ttl === 'function'
        ? (
            (fn) => (v: unknown) =>
              parseDuration(fn(v), 'ttl()')
          )(o.ttl)
        : parseDuration(o.ttl, 'ttl');
  let lease = ns.lease;
  if (o.lease === false) lease = undefined;
  else if (o.lease === true) lease = ns.lease ?? { ttlMs: 5_000, waitMs: 5_000 };
  else if (o.lease) {
    const ttlMs = o.lease.ttl === undefined ? 5_000 : parseDuration(o.lease.ttl, 'lease.ttl');
    lease = { ttlMs, waitMs: o.lease.wait === undefined ? ttlMs : parseDuration(o.lease.wait, 'lease.wait') };
  }
  return {
    namespace,
    ttl,
    jitter: ns.jitter,
    maxValueBytes: ns.maxValueBytes,
    graceMs: o.grace === undefined ? ns.graceMs : parseDuration(o.grace, 'grace'),
    softTimeoutMs: o.softTimeout === undefined ? ns.softTimeoutMs : parseDuration(o.softTimeout, 'softTimeout'),
    hardTimeoutMs: o.hardTimeout === undefined ? ns.hardTimeoutMs : parseDuration(o.hardTimeout, 'hardTimeout'),
    eagerRefresh: o.eagerRefresh === undefined ? ns.eagerRefresh : o.eagerRefresh,
    lease,
    cacheNull: o.cacheNull ?? cacheNull,
  };
}
