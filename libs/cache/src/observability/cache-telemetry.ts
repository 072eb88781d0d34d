import type { CacheOperation, CacheOutcome, CacheRecorder, CacheTier } from './cache-recorder.js';
import { CacheStatsRecorder } from './cache-stats.recorder.js';

/** Distinct namespace names counted on their own; later ones share the label `_other` (bounded memory). */
export const MAX_COUNTED_NAMESPACES = 256;

/** The label of namespaces past {@link MAX_COUNTED_NAMESPACES}. */
export const OTHER_NAMESPACE = '_other';

/**
 * Where every cache event is counted: the always-on stats recorder and the sinks added later (metrics). Namespace
 * labels are bounded here, once for every sink: the configured namespaces, then the first names seen, then `_other`.
 * @example telemetry.count('user', 'redis', 'get', 'hit', 0.4);
 */
export class CacheTelemetry {
  readonly stats = new CacheStatsRecorder();
  private readonly recorders: CacheRecorder[] = [this.stats];
  private readonly labels = new Set<string>();

  constructor(configured: Iterable<string> = []) {
    for (const name of configured) this.labels.add(name);
  }

  /** Adds a sink (the metrics module registers one). */
  addRecorder(recorder: CacheRecorder): void {
    this.recorders.push(recorder);
  }

  count(namespace: string, tier: CacheTier, operation: CacheOperation, outcome: CacheOutcome, ms?: number): void {
    const label = this.label(namespace);
    for (const recorder of this.recorders) recorder.record(label, tier, operation, outcome, ms);
  }

  /** The bounded label of a namespace. */
  label(namespace: string): string {
    if (this.labels.has(namespace)) return namespace;
    if (this.labels.size >= MAX_COUNTED_NAMESPACES) return OTHER_NAMESPACE;
    this.labels.add(namespace);
    return namespace;
  }
}
