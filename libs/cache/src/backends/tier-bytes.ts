import type { CacheEntry } from './cache-entry.js';
import { estimateHeapBytes } from '../codec/heap-size.js';

/** What {@link TierBytes} counts of a stored slot. */
export interface CountedSlot {
  readonly entry: CacheEntry;
  /** The bytes counted for it: exact, or with its value's bound while `pending`. */
  size: number;
  /** The bound its value (decoded from ASCII JSON) was counted at, not walked yet; 0 once walked, or once gone. */
  pending: number;
}

/**
 * The bytes a memory tier's slots count for, some of them at a bound of their value's size (a value decoded from
 * ASCII JSON costs at most `jsonHeapBound` of its bytes) until {@link walk} sizes them exactly: a tier far below
 * its byte bound then never walks what it holds, and the count never falls below what the slots really hold.
 * @example bytes.added(slot); ...; bytes.walk(); bytes.total // exact
 */
export class TierBytes {
  /** Bytes counted now. */
  total = 0;
  /** Slots counted at a bound, to walk (some may be gone or walked: `pending` 0). */
  private unsized: CountedSlot[] = [];

  /** `maxSlots`: how many slots the tier holds at most (the list of slots to walk stays within twice that). */
  constructor(private readonly maxSlots: number) {}

  /** A slot stored. */
  added(slot: CountedSlot): void {
    this.total += slot.size;
    if (slot.pending > 0 && this.unsized.push(slot) > 2 * this.maxSlots + 64) {
      this.unsized = this.unsized.filter((s) => s.pending > 0);
    }
  }

  /** A slot gone from the tier (evicted, replaced, deleted). */
  removed(slot: CountedSlot): void {
    this.total -= slot.size;
    slot.pending = 0;
  }

  /** Sizes the slots counted at a bound by walking their values: {@link total} is then exact. */
  walk(): void {
    const unsized = this.unsized;
    for (let i = 0; i < unsized.length; i++) {
      const slot = unsized[i]!;
      if (slot.pending === 0) continue;
      const exact = estimateHeapBytes(slot.entry.value, true);
      this.total += exact - slot.pending;
      slot.size += exact - slot.pending;
      slot.pending = 0;
    }
    unsized.length = 0;
  }

  /** Forgets the slots to walk (the tier was emptied; each slot's removal was counted). */
  clear(): void {
    this.unsized.length = 0;
  }
}
