/** What a replay must redo. */
export interface PendingInvalidations {
  keys: string[];
  tags: string[];
  prefixes: string[];
  /** The queue overflowed: everything under these namespace prefixes (or the whole module prefix) must go. */
  overflowed: boolean;
}

/**
 * Invalidations that could not reach Redis (down, frozen, breaker open), kept to be redone when it is back, so a
 * write made during an outage is never lost. Bounded: keys, tags and prefixes together never exceed `maxItems`.
 * At the cap, what does not fit widens into a coarser invalidation that covers it — the key's namespace prefix, or
 * the whole module prefix (a tag can span namespaces; so does a full queue) — and the narrower entries it covers
 * are dropped from the queue (each counted in `dropped`). Entries already covered by a queued prefix are not added.
 * @example queue.addKeys(['bot:user:42'], 'bot:user:'); const pending = queue.drain();
 */
export class ReplayQueue {
  private keys = new Set<string>();
  private tags = new Set<string>();
  private prefixes = new Set<string>();
  private overflow = false;
  /** Invalidations that did not fit and were widened into a namespace or module clear. */
  dropped = 0;

  constructor(private readonly maxItems = 10_000) {}

  /** Keys + tags + prefixes queued: never more than `maxItems`. */
  get size(): number {
    return this.keys.size + this.tags.size + this.prefixes.size;
  }

  /** Queues keys; `namespacePrefix` is what gets cleared if the queue is full. */
  addKeys(keys: readonly string[], namespacePrefix: string): void {
    for (const key of keys) {
      if (this.keys.has(key) || this.covered(key)) continue;
      if (this.size < this.maxItems) this.keys.add(key);
      else this.widen(namespacePrefix);
    }
  }

  /** Queues tags; at the cap the whole `modulePrefix` is cleared instead (a tag spans namespaces). */
  addTags(tags: readonly string[], modulePrefix: string): void {
    const all = `${modulePrefix}:`;
    for (const tag of tags) {
      if (this.tags.has(tag) || this.prefixes.has(all)) continue;
      if (this.size < this.maxItems) this.tags.add(tag);
      else this.widen(all);
    }
  }

  /** Queues a key prefix to clear (a namespace, or `invalidatePrefix` parts). */
  addPrefix(prefix: string): void {
    if (this.covered(prefix)) return;
    if (this.size < this.maxItems) this.prefixes.add(prefix);
    else this.widen(prefix);
  }

  /** Takes everything queued (the queue is empty afterwards). */
  drain(): PendingInvalidations {
    const pending = {
      keys: [...this.keys],
      tags: [...this.tags],
      prefixes: [...this.prefixes],
      overflowed: this.overflow,
    };
    this.keys = new Set();
    this.tags = new Set();
    this.prefixes = new Set();
    this.overflow = false;
    return pending;
  }

  /**
   * The queue is full and `prefix` (or an entry under it) does not fit: queue its namespace prefix instead, dropping
   * what it covers; if that frees no room, the module prefix, which covers everything. Scans the queue at most once
   * per namespace and once for the module per outage: later entries are then covered and skipped.
   */
  private widen(prefix: string): void {
    this.dropped++;
    this.overflow = true;
    const namespace = namespaceOf(prefix);
    if (namespace !== undefined) {
      this.subsume(namespace);
      if (this.size < this.maxItems) {
        this.prefixes.add(namespace);
        return;
      }
    }
    const all = moduleOf(prefix);
    // Never widen to '' (that would clear every key on the server): a prefix without ':' is queued as is.
    if (all === undefined) {
      this.prefixes.add(prefix);
      return;
    }
    this.subsume(all);
    // Clearing the module prefix removes every tagged entry and every tag generation and index (`<prefix>:__tag…`).
    this.dropped += this.tags.size;
    this.tags.clear();
    this.prefixes.add(all);
  }

  /** Drops queued keys and prefixes that `prefix` covers. */
  private subsume(prefix: string): void {
    for (const key of this.keys) {
      if (key.startsWith(prefix)) {
        this.keys.delete(key);
        this.dropped++;
      }
    }
    for (const p of this.prefixes) {
      if (p.startsWith(prefix)) {
        this.prefixes.delete(p);
        this.dropped++;
      }
    }
  }

  /**
   * Whether a queued prefix already covers `text`. Queued prefixes end with ':' (namespace, module and composed-key
   * prefixes), so only the prefixes of `text` ending at a ':' are looked up — O(number of ':'), not O(queue).
   */
  private covered(text: string): boolean {
    if (this.prefixes.size === 0) return false;
    for (let i = text.indexOf(':'); i !== -1; i = text.indexOf(':', i + 1)) {
      if (this.prefixes.has(text.slice(0, i + 1))) return true;
    }
    return false;
  }
}

/** `<module>:<namespace>:` of a key or prefix (module and namespace names never contain ':'), if it has one. */
function namespaceOf(text: string): string | undefined {
  const first = text.indexOf(':');
  const second = first < 0 ? -1 : text.indexOf(':', first + 1);
  return second < 0 ? undefined : text.slice(0, second + 1);
}

/** `<module>:` of a key or prefix, if it has one. */
function moduleOf(text: string): string | undefined {
  const first = text.indexOf(':');
  return first <= 0 ? undefined : text.slice(0, first + 1);
}
