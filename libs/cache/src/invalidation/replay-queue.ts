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
 * write made during an outage is never lost. Bounded: past `maxKeys` keys it stops collecting keys and remembers
 * that the affected namespaces must be cleared whole instead (overflow is counted).
 * @example queue.addKeys(['bot:user:42'], 'bot:user:'); const pending = queue.drain();
 */
export class ReplayQueue {
  private keys = new Set<string>();
  private tags = new Set<string>();
  private prefixes = new Set<string>();
  private overflow = false;
  /** Keys that did not fit (their namespaces are cleared whole on replay). */
  dropped = 0;

  constructor(private readonly maxKeys = 10_000) {}

  get size(): number {
    return this.keys.size + this.tags.size + this.prefixes.size;
  }

  /** Queues keys; `namespacePrefix` is what gets cleared if the queue is full. */
  addKeys(keys: readonly string[], namespacePrefix: string): void {
    for (const key of keys) {
      if (this.keys.size < this.maxKeys) this.keys.add(key);
      else {
        this.dropped++;
        this.overflow = true;
        this.prefixes.add(namespacePrefix);
      }
    }
  }

  addTags(tags: readonly string[], modulePrefix: string): void {
    for (const tag of tags) {
      if (this.tags.size < this.maxKeys) this.tags.add(tag);
      else {
        this.dropped++;
        this.overflow = true;
        // A tag spans namespaces: only clearing the whole module prefix is safe.
        this.prefixes.add(`${modulePrefix}:`);
      }
    }
  }

  addPrefix(prefix: string): void {
    this.prefixes.add(prefix);
  }

  /** Takes everything queued (the queue is empty afterwards). */
  drain(): PendingInvalidations {
    const pending = { keys: [...this.keys], tags: [...this.tags], prefixes: [...this.prefixes], overflowed: this.overflow };
    this.keys = new Set();
    this.tags = new Set();
    this.prefixes = new Set();
    this.overflow = false;
    return pending;
  }
}
