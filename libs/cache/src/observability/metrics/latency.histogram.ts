import { Histogram } from 'prom-client';

type HistogramObject = Awaited<ReturnType<Histogram<string>['get']>>;
type HistogramValue = HistogramObject['values'][number];

/**
 * A prom-client histogram whose cells (one per label set, fixed up front) are plain typed arrays: `record` is a
 * bucket search and two array writes — no label hashing, no allocation — and the exposition is built at scrape time.
 * (prom-client's own `observe` costs ~1–2 µs per call, more than a memory-tier hit.) Only `record` feeds it.
 * @example
 * const h = new LatencyHistogram('cache_operation_duration_seconds', 'help', ['tier', 'operation'], [['memory', 'get']], [0.001, 0.01]);
 * h.record(0, 0.0004);
 */
export class LatencyHistogram extends Histogram<string> {
  private readonly bounds: Float64Array;
  private readonly counts: Float64Array;
  private readonly sums: Float64Array;
  private readonly width: number;

  constructor(
    private readonly metricName: string,
    private readonly helpText: string,
    private readonly labelKeys: readonly string[],
    /** Label values of each cell, in the order of `labelKeys`. */
    private readonly cells: readonly (readonly string[])[],
    buckets: readonly number[],
  ) {
    super({ name: metricName, help: helpText, labelNames: [...labelKeys], buckets: [...buckets], registers: [] });
    this.bounds = Float64Array.from(buckets);
    this.width = buckets.length + 1;
    this.counts = new Float64Array(cells.length * this.width);
    this.sums = new Float64Array(cells.length);
  }

  /** Records one observation (seconds) in cell `cell`; out-of-range cells are ignored. */
  record(cell: number, seconds: number): void {
    if (!(cell >= 0 && cell < this.sums.length)) return;
    const bounds = this.bounds;
    let b = 0;
    while (b < bounds.length && seconds > (bounds[b] ?? Infinity)) b++;
    const i = cell * this.width + b;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sums[cell] = (this.sums[cell] ?? 0) + seconds;
  }

  override reset(): void {
    // prom-client's constructor calls reset() before this class's fields exist.
    if (this.counts === undefined) return;
    this.counts.fill(0);
    this.sums.fill(0);
  }

  override async get(): Promise<HistogramObject> {
    return this.snapshot();
  }

  /** What prom-client's registry calls (in preference to `get`) when rendering the text format. */
  async getForPromString(): Promise<HistogramObject> {
    return this.snapshot();
  }

  private snapshot(): HistogramObject {
    const values: HistogramValue[] = [];
    for (let cell = 0; cell < this.cells.length; cell++) {
      const offset = cell * this.width;
      let total = 0;
      for (let b = 0; b < this.width; b++) total += this.counts[offset + b] ?? 0;
      if (total === 0) continue;
      const labels: Record<string, string> = {};
      this.labelKeys.forEach((key, k) => (labels[key] = this.cells[cell]?.[k] ?? ''));
      let cumulative = 0;
      for (let b = 0; b < this.width; b++) {
        cumulative += this.counts[offset + b] ?? 0;
        const le = b < this.bounds.length ? (this.bounds[b] ?? 0) : '+Inf';
        values.push({ labels: { ...labels, le }, value: cumulative, metricName: `${this.metricName}_bucket` });
      }
      values.push({ labels, value: this.sums[cell] ?? 0, metricName: `${this.metricName}_sum` });
      values.push({ labels, value: total, metricName: `${this.metricName}_count` });
    }
    // The exposition object's `type` is a string at run time; prom-client's typings declare an enum it never exports.
    return {
      name: this.metricName,
      help: this.helpText,
      type: 'histogram',
      aggregator: 'sum',
      values,
    } as unknown as HistogramObject;
  }
}
