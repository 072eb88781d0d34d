import { Counter } from 'prom-client';
import type { CacheOperation, CacheOutcome, CacheRecorder, CacheTier } from '../cache-recorder.js';
import { LatencyHistogram } from './latency.histogram.js';
import type { CacheMetricNames } from './metric-names.js';

// Records keyed by the unions, so adding a tier, operation or outcome to CacheRecorder fails to compile here.
const TIER_INDEX: Record<CacheTier, number> = { memory: 0, redis: 1, source: 2 };
const OPERATION_INDEX: Record<CacheOperation, number> = {
  get: 0,
  set: 1,
  delete: 2,
  invalidate: 3,
  clear: 4,
  update: 5,
  append: 6,
  load: 7,
  lease: 8,
  warm: 9,
};
const OUTCOME_INDEX: Record<CacheOutcome, number> = {
  hit: 0,
  miss: 1,
  ok: 2,
  error: 3,
  timeout: 4,
  refused: 5,
  corrupt: 6,
  skipped: 7,
  wait: 8,
  bypass: 9,
  open: 10,
  stale: 11,
  refresh: 12,
};

const ordered = <K extends string>(index: Record<K, number>): K[] =>
  (Object.keys(index) as K[]).sort((a, b) => index[a] - index[b]);
const TIERS = ordered(TIER_INDEX);
const OPERATIONS = ordered(OPERATION_INDEX);
const OUTCOMES = ordered(OUTCOME_INDEX);
const SLOTS = TIERS.length * OPERATIONS.length * OUTCOMES.length;

/**
 * The label naming the cache (`CacheModule.forRoot({ name })`) of every cache metric series.
 * @example cache_hits_total{cache="catalogue",namespace="item",tier="redis"}
 */
export const CACHE_LABEL = 'cache';

/**
 * Label value shared by namespaces past `maxNamespaces`.
 * @example cache_hits_total{namespace="_other",tier="redis"}
 */
export const OVERFLOW_NAMESPACE = '_other';

type Kind =
  'hits' | 'misses' | 'sets' | 'invalidations' | 'errors' | 'timeouts' | 'refused' | 'decodeFailures' | 'stampedeWaits';
type Dimension = 'namespace' | 'tier' | 'operation';

const KIND_DIMENSIONS: Record<Kind, readonly Dimension[]> = {
  hits: ['namespace', 'tier'],
  misses: ['namespace', 'tier'],
  sets: ['namespace', 'tier'],
  invalidations: ['namespace', 'tier', 'operation'],
  errors: ['namespace', 'tier', 'operation'],
  timeouts: ['namespace', 'tier', 'operation'],
  refused: ['namespace', 'tier'],
  decodeFailures: ['namespace', 'tier'],
  stampedeWaits: ['namespace'],
};

const KIND_HELP: Record<Kind, string> = {
  hits: 'Reads answered from the cache.',
  misses: 'Reads the cache could not answer (the source was asked).',
  sets: 'Values written to the cache.',
  invalidations: 'Deletes, tag invalidations and namespace clears that succeeded.',
  errors: 'Backend errors; the call was answered from the source.',
  timeouts: 'Backend timeouts; the call was answered from the source.',
  refused: 'Values not cached because too large or unserializable.',
  decodeFailures: 'Stored entries that could not be decoded (treated as misses).',
  stampedeWaits: 'Callers that joined a load already in flight instead of loading again.',
};

function kindOf(operation: CacheOperation, outcome: CacheOutcome): Kind | undefined {
  switch (outcome) {
    case 'hit':
      return 'hits';
    case 'miss':
      return 'misses';
    case 'ok':
      if (operation === 'set') return 'sets';
      return operation === 'delete' || operation === 'invalidate' || operation === 'clear'
        ? 'invalidations'
        : undefined;
    case 'error':
      return 'errors';
    case 'timeout':
      return 'timeouts';
    case 'refused':
      return 'refused';
    case 'corrupt':
      return 'decodeFailures';
    case 'wait':
      return 'stampedeWaits';
    default:
      return undefined;
  }
}

interface Target {
  counter: Counter<string>;
  labels: Record<string, string>;
}

/** Pending increments of one namespace label value, flushed into the counters at scrape time. */
class NamespaceCells {
  readonly pending = new Float64Array(SLOTS);
  readonly targets: (Target[] | undefined)[] = [];
  dirty = false;
  constructor(readonly label: string) {}
}

/**
 * The counter families and the latency histogram every cache of the app feeds, each series labelled with its
 * `cache` (`'default'` for the unnamed one). Built once per metrics module, with the app's cache names.
 * @example const families = new CacheMetricFamilies(cacheMetricNames(), 'namespace', ['default'], DEFAULT_LATENCY_BUCKETS);
 */
export class CacheMetricFamilies {
  /** Every metric of the families, with its name, to register on a registry. */
  readonly metrics: { name: string; metric: Counter<string> | LatencyHistogram }[] = [];
  readonly operations: Counter<string>;
  readonly kinds: Record<Kind, Counter<string>>;
  readonly evictions: Counter<string>;
  readonly latency: LatencyHistogram;
  /** Latency cells of one cache: tiers × operations. */
  static readonly CELLS_PER_CACHE = TIERS.length * OPERATIONS.length;
  private readonly flushers: (() => void)[] = [];

  constructor(
    names: CacheMetricNames,
    readonly namespaceLabel: string,
    caches: readonly string[],
    buckets: readonly number[],
  ) {
    const flush = (): void => {
      for (const f of this.flushers) f();
    };
    const counter = (name: string, help: string, labelNames: string[]): Counter<string> => {
      const metric = new Counter({
        name,
        help,
        labelNames: [CACHE_LABEL, ...labelNames],
        registers: [],
        collect: flush,
      });
      this.metrics.push({ name, metric });
      return metric;
    };
    this.operations = counter(names.operations, 'Cache events by cache, namespace, tier, operation and result.', [
      namespaceLabel,
      'tier',
      'operation',
      'result',
    ]);
    const kinds = {} as Record<Kind, Counter<string>>;
    for (const kind of Object.keys(KIND_DIMENSIONS) as Kind[]) {
      kinds[kind] = counter(
        names[kind],
        KIND_HELP[kind],
        KIND_DIMENSIONS[kind].map((d) => this.labelName(d)),
      );
    }
    this.kinds = kinds;
    this.evictions = counter(names.evictions, 'Memory-tier entries evicted for space (not expiry).', ['tier']);
    const cells = caches.flatMap((cache) =>
      TIERS.flatMap((tier) => OPERATIONS.map((operation) => [cache, tier, operation])),
    );
    this.latency = new LatencyHistogram(
      names.latency,
      'Latency of cache backend operations, in seconds.',
      [CACHE_LABEL, 'tier', 'operation'],
      cells,
      buckets,
    );
    this.metrics.push({ name: names.latency, metric: this.latency });
  }

  /** Adds a recorder's flush to what every scrape runs. */
  onCollect(flush: () => void): void {
    this.flushers.push(flush);
  }

  labelName(dimension: Dimension): string {
    return dimension === 'namespace' ? this.namespaceLabel : dimension;
  }
}

/**
 * The metrics sink of one cache: `record` (on every cache call, hits included) only bumps a number in a typed array —
 * no label hashing, no allocation; the increments reach the shared prom-client counters when the registry is
 * scraped (their `collect`). Namespaces past `maxNamespaces` share the label `_other`; keys and ids are never labels.
 * @example
 * const recorder = new CacheMetricsRecorder(families, 'default', 0, 100, () => store.evictions);
 * telemetry.addRecorder(recorder);
 */
export class CacheMetricsRecorder implements CacheRecorder {
  private readonly namespaces = new Map<string, NamespaceCells>();
  private readonly overflow = new NamespaceCells(OVERFLOW_NAMESPACE);
  private readonly cellOffset: number;
  private evictionsSeen = 0;

  constructor(
    private readonly families: CacheMetricFamilies,
    private readonly cache: string,
    cacheIndex: number,
    private readonly maxNamespaces: number,
    private readonly evictionTotal: () => number,
  ) {
    this.cellOffset = cacheIndex * CacheMetricFamilies.CELLS_PER_CACHE;
    families.onCollect(() => this.flush());
  }

  record(
    namespace: string,
    tier: CacheTier,
    operation: CacheOperation,
    outcome: CacheOutcome,
    durationMs?: number,
  ): void {
    const cells = this.namespaces.get(namespace) ?? this.admit(namespace);
    const cell = TIER_INDEX[tier] * OPERATIONS.length + OPERATION_INDEX[operation];
    const slot = cell * OUTCOMES.length + OUTCOME_INDEX[outcome];
    cells.pending[slot] = (cells.pending[slot] ?? 0) + 1;
    cells.dirty = true;
    if (durationMs !== undefined) this.families.latency.record(this.cellOffset + cell, durationMs / 1000);
  }

  /** Moves pending increments into the prom-client counters; runs on every scrape (idempotent). */
  flush(): void {
    for (const cells of this.namespaces.values()) this.flushCells(cells);
    this.flushCells(this.overflow);
    const evicted = this.evictionTotal();
    if (evicted > this.evictionsSeen) {
      this.families.evictions.inc({ [CACHE_LABEL]: this.cache, tier: 'memory' }, evicted - this.evictionsSeen);
      this.evictionsSeen = evicted;
    }
  }

  private admit(namespace: string): NamespaceCells {
    // Past the cap nothing is stored per name, so unbounded names cost neither series nor memory.
    if (this.namespaces.size >= this.maxNamespaces) return this.overflow;
    const cells = new NamespaceCells(namespace);
    this.namespaces.set(namespace, cells);
    return cells;
  }

  private flushCells(cells: NamespaceCells): void {
    if (!cells.dirty) return;
    cells.dirty = false;
    const pending = cells.pending;
    for (let slot = 0; slot < SLOTS; slot++) {
      const n = pending[slot] ?? 0;
      if (n === 0) continue;
      pending[slot] = 0;
      const targets = cells.targets[slot] ?? (cells.targets[slot] = this.targetsOf(cells.label, slot));
      for (const target of targets) target.counter.inc(target.labels, n);
    }
  }

  private targetsOf(namespace: string, slot: number): Target[] {
    const outcome = OUTCOMES[slot % OUTCOMES.length] ?? 'ok';
    const cell = Math.floor(slot / OUTCOMES.length);
    const operation = OPERATIONS[cell % OPERATIONS.length] ?? 'get';
    const tier = TIERS[Math.floor(cell / OPERATIONS.length)] ?? 'source';
    const values: Record<Dimension, string> = { namespace, tier, operation };
    const families = this.families;
    const targets: Target[] = [
      {
        counter: families.operations,
        labels: { [CACHE_LABEL]: this.cache, [families.namespaceLabel]: namespace, tier, operation, result: outcome },
      },
    ];
    const kind = kindOf(operation, outcome);
    if (kind !== undefined) {
      const labels: Record<string, string> = { [CACHE_LABEL]: this.cache };
      for (const d of KIND_DIMENSIONS[kind]) labels[families.labelName(d)] = values[d];
      targets.push({ counter: families.kinds[kind], labels });
    }
    return targets;
  }
}
