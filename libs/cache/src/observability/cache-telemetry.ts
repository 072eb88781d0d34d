import type { CacheOperation, CacheOutcome, CacheRecorder, CacheTier } from './cache-recorder.js';
import type { NamespaceStats } from './cache-stats.recorder.js';
import { CacheStatsRecorder } from './cache-stats.recorder.js';

/** Distinct namespace names counted on their own; later ones share the label `_other` (bounded memory). */
export const MAX_COUNTED_NAMESPACES = 256;

/** The label of namespaces past {@link MAX_COUNTED_NAMESPACES}. */
export const OTHER_NAMESPACE = '_other';

/**
 * One namespace's counting, resolved once (a decorated method gets its own at boot): the hot path counts a hit
 * without a label or map lookup. Its stats are created on first use, so a namespace never called shows no counters.
 */
export interface NamespaceCounter {
  readonly label: string;
  stats: NamespaceStats | undefined;
}

/**
 * Where every cache event is counted: the always-on stats recorder and the sinks added later (metrics, tracing,
 * test records). Namespace labels are bounded here, once for every sink: the configured namespaces, then the first
 * names seen, then `_other`.
 * @example telemetry.count('user', 'redis', 'get', 'hit', 0.4);
 */
export class CacheTelemetry {
  readonly stats = new CacheStatsRecorder();
  /** The sinks besides the stats (which are counted directly). */
  private readonly sinks: CacheRecorder[] = [];
  private readonly labels = new Set<string>();
  private readonly counters = new Map<string, NamespaceCounter>();

  constructor(configured: Iterable<string> = []) {
    for (const name of configured) this.labels.add(name);
  }

  /** Adds a sink (the metrics module registers one). */
  addRecorder(recorder: CacheRecorder): void {
    this.sinks.push(recorder);
  }

  /** Whether a sink records durations: without one, a hit needs no clock read. */
  get timed(): boolean {
    return this.sinks.length > 0;
  }

  count(namespace: string, tier: CacheTier, operation: CacheOperation, outcome: CacheOutcome, ms?: number): void {
    const label = this.label(namespace);
    this.stats.record(label, tier, operation, outcome);
    for (const sink of this.sinks) sink.record(label, tier, operation, outcome, ms);
  }

  /** The counter of a namespace, for a hot path to keep (bounded: one per label). */
  counter(namespace: string): NamespaceCounter {
    const label = this.label(namespace);
    let counter = this.counters.get(label);
    if (counter === undefined) this.counters.set(label, (counter = { label, stats: undefined }));
    return counter;
  }

  /** Counts a hit of `get` (the hot path: {@link count} without the lookups). */
  hit(counter: NamespaceCounter, tier: CacheTier, ms?: number): void {
    const s = (counter.stats ??= this.stats.of(counter.label));
    s.hits++;
    if (tier === 'memory') s.memoryHits++;
    else s.redisHits++;
    const sinks = this.sinks;
    for (let i = 0; i < sinks.length; i++) sinks[i]!.record(counter.label, tier, 'get', 'hit', ms);
  }

  /** The bounded label of a namespace. */
  label(namespace: string): string {
    if (this.labels.has(namespace)) return namespace;
    if (this.labels.size >= MAX_COUNTED_NAMESPACES) return OTHER_NAMESPACE;
    this.labels.add(namespace);
    return namespace;
  }
}
