/** A deleted entry of the inner Map is kept as a hole until the Map holds this many keys and half are holes. */
const SWEEP_AT = 2_048;

/**
 * A Map for the hot path, whose entries come and go on every call (what is in flight: one at concurrency 1, a few
 * dozen under load). Its first entry lives in fields; further ones go to an inner Map, where a deleted entry is kept
 * as a hole (`undefined`) and swept out in one pass once holes are many. V8 rebuilds a Map's table as entries are
 * deleted and added (shrinking it as it empties, compacting it as deleted slots fill it): a registry that went
 * 0 → 1 → 0 on every call paid a runtime call each time (measured: a few µs per Redis hit), and one that churned
 * through 64 keys in flight about a microsecond per hit. A key that comes back finds its hole and reuses it.
 * Values are objects: `undefined` is the hole.
 * @example const reads = new SlottedMap<string, Promise<unknown>>(); reads.set(k, p); reads.get(k); reads.delete(k);
 */
export class SlottedMap<K, V extends object> {
  private slotted = false;
  private slotKey: K | undefined;
  private slotValue: V | undefined;
  private readonly rest = new Map<K, V | undefined>();
  /** Entries of `rest` that are not holes. */
  private live = 0;

  get size(): number {
    return (this.slotted ? 1 : 0) + this.live;
  }

  get(key: K): V | undefined {
    if (this.slotted && this.slotKey === key) return this.slotValue;
    return this.live === 0 ? undefined : this.rest.get(key);
  }

  has(key: K): boolean {
    return (this.slotted && this.slotKey === key) || (this.live > 0 && this.rest.get(key) !== undefined);
  }

  set(key: K, value: V): void {
    if (this.slotted ? this.slotKey === key : this.live === 0 || this.rest.get(key) === undefined) {
      this.slotted = true;
      this.slotKey = key;
      this.slotValue = value;
      return;
    }
    if (this.rest.get(key) === undefined) this.live++;
    this.rest.set(key, value);
  }

  delete(key: K): boolean {
    if (this.slotted && this.slotKey === key) {
      this.slotted = false;
      this.slotKey = undefined;
      this.slotValue = undefined;
      return true;
    }
    if (this.live === 0 || this.rest.get(key) === undefined) return false;
    this.rest.set(key, undefined);
    this.live--;
    if (this.rest.size >= SWEEP_AT && this.live * 2 <= this.rest.size) this.sweep();
    return true;
  }

  clear(): void {
    this.slotted = false;
    this.slotKey = undefined;
    this.slotValue = undefined;
    this.rest.clear();
    this.live = 0;
  }

  /** Calls `fn` for each key, in no particular order (no snapshot: `fn` must not add or delete). */
  forEachKey(fn: (key: K) => void): void {
    if (this.slotted) fn(this.slotKey as K);
    if (this.live > 0) for (const [key, value] of this.rest) if (value !== undefined) fn(key);
  }

  /** The keys, in no particular order; safe to delete from while iterating (a snapshot). */
  keys(): K[] {
    return this.entries().map(([key]) => key);
  }

  /** The entries, in no particular order (a snapshot). */
  entries(): [K, V][] {
    const entries: [K, V][] = [];
    if (this.live > 0) for (const [key, value] of this.rest) if (value !== undefined) entries.push([key, value]);
    if (this.slotted) entries.push([this.slotKey as K, this.slotValue as V]);
    return entries;
  }

  /** Drops the holes (one pass; deleting while iterating a Map is safe). */
  private sweep(): void {
    for (const [key, value] of this.rest) if (value === undefined) this.rest.delete(key);
  }
}
