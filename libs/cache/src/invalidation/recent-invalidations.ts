/** Invalidations applied in the last window, to apply again after a reconnect. */
export interface RecentChanges {
  keys: string[];
  tags: string[];
  prefixes: string[];
}

/**
 * A short memory of the invalidations this instance sent, redone after every reconnect: a failover (Sentinel, Cluster)
 * may promote a replica that never received an acknowledged DEL, so an invalidation is not trusted to a single
 * acknowledged command. Bounded by count and age.
 * @example recent.add('keys', ['bot:user:42']); recent.since(Date.now() - 30_000)
 */
export class RecentInvalidations {
  private entries: { at: number; kind: keyof RecentChanges; value: string }[] = [];

  constructor(
    private readonly windowMs = 30_000,
    private readonly max = 10_000,
  ) {}

  add(kind: keyof RecentChanges, values: readonly string[]): void {
    const at = Date.now();
    for (const value of values) this.entries.push({ at, kind, value });
    if (this.entries.length > this.max) this.entries.splice(0, this.entries.length - this.max);
  }

  /** The invalidations of the window (deduplicated); older ones are forgotten. */
  take(): RecentChanges {
    const cutoff = Date.now() - this.windowMs;
    this.entries = this.entries.filter((e) => e.at >= cutoff);
    const out: Record<keyof RecentChanges, Set<string>> = { keys: new Set(), tags: new Set(), prefixes: new Set() };
    for (const e of this.entries) out[e.kind].add(e.value);
    return { keys: [...out.keys], tags: [...out.tags], prefixes: [...out.prefixes] };
  }
}
