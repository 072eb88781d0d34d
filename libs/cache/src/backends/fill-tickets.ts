import { SlottedMap } from '../resilience/slotted-map.js';

/** A read of another tier in flight for `key`; an invalidation of the key meanwhile makes it stale. */
export interface FillTicket {
  readonly key: string;
  stale: boolean;
}

/**
 * The memory tier's fills in flight, by key: a write or a delete of one key marks that key's tickets in one lookup,
 * however many reads of other keys are in flight (64 concurrent hits no longer cost 64 × 64 checks). Slotted: at
 * concurrency 1 one ticket comes and goes per read.
 * @example const t = tickets.open(key); ...; tickets.close(t); if (!t.stale) store();
 */
export class FillTickets {
  private readonly byKey = new SlottedMap<string, FillTicket | FillTicket[]>();

  /** Keys with a fill in flight. */
  get size(): number {
    return this.byKey.size;
  }

  open(key: string): FillTicket {
    const ticket: FillTicket = { key, stale: false };
    const held = this.byKey.get(key);
    if (held === undefined) this.byKey.set(key, ticket);
    else if (Array.isArray(held)) held.push(ticket);
    else this.byKey.set(key, [held, ticket]);
    return ticket;
  }

  close(ticket: FillTicket): void {
    const held = this.byKey.get(ticket.key);
    if (held === ticket) {
      this.byKey.delete(ticket.key);
    } else if (Array.isArray(held)) {
      const at = held.indexOf(ticket);
      if (at >= 0) held.splice(at, 1);
      if (held.length === 0) this.byKey.delete(ticket.key);
    }
  }

  /** Marks the fills of `key` stale. */
  staleKey(key: string): void {
    const held = this.byKey.get(key);
    if (held === undefined) return;
    if (Array.isArray(held)) for (const ticket of held) ticket.stale = true;
    else held.stale = true;
  }

  /** Marks stale the fills of every key `match` accepts (a prefix clear, a tag invalidation). */
  staleWhere(match: (key: string) => boolean): void {
    this.byKey.forEachKey((key) => {
      if (match(key)) this.staleKey(key);
    });
  }
}
