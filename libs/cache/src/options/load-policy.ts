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
  hardTimeout?: number | string | false;
  eagerRefresh?: number;
  lease?: boolean | LeaseOptions;
}

/** Everything a load of one namespace needs, resolved once (at boot for decorators). */
export interface LoadPolicy {
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
 * @example resolvePolicy(ns, { ttl: '5m' }, true).ttl // 300000
 */
export function resolvePolicy(
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
    ttl,
    jitter: ns.jitter,
    maxValueBytes: ns.maxValueBytes,
    graceMs: o.grace === undefined ? ns.graceMs : parseDuration(o.grace, 'grace'),
    softTimeoutMs: o.softTimeout === undefined ? ns.softTimeoutMs : parseDuration(o.softTimeout, 'softTimeout'),
    hardTimeoutMs:
      o.hardTimeout === undefined
        ? ns.hardTimeoutMs
        : o.hardTimeout === false
          ? undefined
          : parseDuration(o.hardTimeout, 'hardTimeout'),
    eagerRefresh: o.eagerRefresh === undefined ? ns.eagerRefresh : o.eagerRefresh,
    lease,
    cacheNull: o.cacheNull ?? cacheNull,
  };
}

/**
 * The policies of one module: a namespace's own (memoised per configured namespace, so the memo is bounded by the
 * options, whatever names callers pass) or one resolved with overrides (decorators resolve theirs once at boot).
 * @example policies.of('user').ttl; policies.of('user', { ttl: '5m' })
 */
export class Policies {
  private readonly plain = new Map<ResolvedNamespace, LoadPolicy>();

  constructor(
    private readonly namespaces: ReadonlyMap<string, ResolvedNamespace>,
    private readonly defaults: ResolvedNamespace,
    private readonly cacheNull: boolean,
  ) {}

  /** The resolved settings of a namespace (its own, or the defaults). */
  settings(namespace: string): ResolvedNamespace {
    return this.namespaces.get(namespace) ?? this.defaults;
  }

  of(namespace: string, overrides?: LoadOverrides): LoadPolicy {
    const ns = this.settings(namespace);
    if (overrides !== undefined && Object.values(overrides).some((v) => v !== undefined))
      return resolvePolicy(ns, overrides, this.cacheNull);
    let policy = this.plain.get(ns);
    if (!policy) this.plain.set(ns, (policy = resolvePolicy(ns, undefined, this.cacheNull)));
    return policy;
  }
}
