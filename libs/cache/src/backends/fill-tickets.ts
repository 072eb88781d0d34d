/** A read of another tier in flight for `key`; a change of the key meanwhile makes it stale. */
export interface FillTicket {
  readonly key: string;
  /** The sequence number it was opened at: changes numbered above it happened while it was in flight. */
  readonly seq: number;
  closed: boolean;
}

/** Past this many keys changed while fills were in flight, every fill in flight is dropped and the list starts over. */
const MAX_CHANGED_KEYS = 4_096;

/**
 * The memory tier's fills in flight, as sequence numbers: opening and closing one touches no map. A change of a key
 * while fills are in flight is numbered in one map (cleared whenever no fill is in flight); a fill is stale when its
 * key changed after it opened, or when everything was (a prefix clear, a tag invalidation, too many changes at once).
 * @example const t = tickets.open(key); ...; if (!tickets.close(t)) store();
 */
export class FillTickets {
  private seq = 0;
  private inFlight = 0;
  /** Fills opened below this number are stale. */
  private staleBelow = 0;
  /** Key → number of its last change, while fills are in flight. */
  private readonly changed = new Map<string, number>();

  /** Fills in flight. */
  get size(): number {
    return this.inFlight;
  }

  open(key: string): FillTicket {
    this.inFlight++;
    return { key, seq: ++this.seq, closed: false };
  }

  /** Whether the fill is stale (its key changed since it opened), closed or not. */
  isStale(ticket: FillTicket): boolean {
    if (ticket.seq < this.staleBelow) return true;
    if (this.changed.size === 0) return false;
    const at = this.changed.get(ticket.key);
    return at !== undefined && at > ticket.seq;
  }

  /** Ends a fill (again: no effect) and says whether it is stale. */
  close(ticket: FillTicket): boolean {
    const stale = this.isStale(ticket);
    if (ticket.closed) return stale;
    ticket.closed = true;
    // Nothing in flight: no fill can be stale by an earlier change.
    if (--this.inFlight === 0 && this.changed.size > 0) this.changed.clear();
    return stale;
  }

  /** Marks the fills of `key` in flight stale. */
  staleKey(key: string): void {
    if (this.inFlight === 0) return;
    if (this.changed.size >= MAX_CHANGED_KEYS) {
      this.staleAll();
      return;
    }
    this.changed.set(key, ++this.seq);
  }

  /** Marks every fill in flight stale (prefix clears and tag invalidations: their keys are not tracked one by one). */
  staleAll(): void {
    this.staleBelow = ++this.seq;
    this.changed.clear();
  }
}
