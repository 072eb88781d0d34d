/** Invalidations applied in the last window, to apply again after a reconnect. */
export interface RecentChanges {
  keys: string[];
  tags: string[];
  prefixes: string[];
}

/** Which list of {@link RecentChanges} an entry belongs to. */
const enum Kind {
  Key,
  Tag,
  Prefix,
}

/**
 * A short memory of the invalidations this instance sent, redone after every reconnect: a failover (Sentinel, Cluster)
 * may promote a replica that never received an acknowledged DEL, so an invalidation is not trusted to a single
 * acknowledged command. Bounded by count and age.
 * @example recent.addKeys(['bot:user:42']); const { keys } = recent.take();
 */
export class RecentInvalidations {
  private entries: { at: number; kind: Kind; value: string }[] = [];

  constructor(
    private readonly windowMs = 30_000,
    private readonly max = 10_000,
  ) {}

  addKeys(keys: readonly string[]): void {
    this.add(Kind.Key, keys);
  }

  addTags(tags: readonly string[]): void {
    this.add(Kind.Tag, tags);
  }

  addPrefixes(prefixes: readonly string[]): void {
    this.add(Kind.Prefix, prefixes);
  }

  /** The invalidations of the window (deduplicated); older ones are forgotten. */
  take(): RecentChanges {
    const cutoff = Date.now() - this.windowMs;
    this.entries = this.entries.filter((e) => e.at >= cutoff);
    const sets = [new Set<string>(), new Set<string>(), new Set<string>()] as const;
    for (const e of this.entries) sets[e.kind].add(e.value);
    return { keys: [...sets[Kind.Key]], tags: [...sets[Kind.Tag]], prefixes: [...sets[Kind.Prefix]] };
  }

  private add(kind: Kind, values: readonly string[]): void {
    const at = Date.now();
    for (const value of values) this.entries.push({ at, kind, value });
    if (this.entries.length > this.max) this.entries.splice(0, this.entries.length - this.max);
  }
}
