import type { CacheOperation, CacheOutcome, CacheRecorder, CacheTier } from './cache-recorder.js';

/** Counters of one namespace. */
export interface NamespaceStats {
  hits: number;
  misses: number;
  memoryHits: number;
  redisHits: number;
  sets: number;
  errors: number;
  refused: number;
  corrupt: number;
  invalidations: number;
  stampedeWaits: number;
  bypassed: number;
}

const empty = (): NamespaceStats => ({
  hits: 0,
  misses: 0,
  memoryHits: 0,
  redisHits: 0,
  sets: 0,
  errors: 0,
  refused: 0,
  corrupt: 0,
  invalidations: 0,
  stampedeWaits: 0,
  bypassed: 0,
});

/**
 * In-process counters per namespace, always on (a few integer increments per call); the source of
 * `CacheService.stats()`.
 */
export class CacheStatsRecorder implements CacheRecorder {
  private readonly byNamespace = new Map<string, NamespaceStats>();

  /** The live counters of a namespace (created on first use); the telemetry increments hits on them directly. */
  of(namespace: string): NamespaceStats {
    let s = this.byNamespace.get(namespace);
    if (s === undefined) this.byNamespace.set(namespace, (s = empty()));
    return s;
  }

  record(namespace: string, tier: CacheTier, operation: CacheOperation, outcome: CacheOutcome): void {
    const s = this.of(namespace);
    switch (outcome) {
      case 'hit':
        s.hits++;
        if (tier === 'memory') s.memoryHits++;
        else s.redisHits++;
        return;
      case 'miss':
        if (operation === 'get') s.misses++;
        return;
      case 'ok':
        if (operation === 'set') s.sets++;
        else if (operation === 'delete' || operation === 'invalidate' || operation === 'clear') s.invalidations++;
        return;
      case 'error':
      case 'timeout':
        s.errors++;
        return;
      case 'refused':
        s.refused++;
        return;
      case 'corrupt':
        s.corrupt++;
        return;
      case 'wait':
        s.stampedeWaits++;
        return;
      case 'bypass':
        s.bypassed++;
        return;
      default:
        return;
    }
  }

  /** A copy of the counters, keyed by namespace. */
  snapshot(): Record<string, NamespaceStats> {
    return Object.fromEntries([...this.byNamespace].map(([ns, s]) => [ns, { ...s }]));
  }
}
