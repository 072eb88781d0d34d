/**
 * A Map for the hot path whose usual size is 0 or 1 (what is in flight at concurrency 1): its first entry lives in
 * fields, and only further entries go to a Map. V8 shrinks a Map's table when it empties and grows it again on the
 * next insert, a runtime call each: a registry that went 0 → 1 → 0 on every call paid both on every call (measured:
 * a few µs per Redis hit). Further entries keep the inner Map populated while there is concurrency.
 * @example const reads = new SlottedMap<string, Promise<unknown>>(); reads.set(k, p); reads.get(k); reads.delete(k);
 */
export class SlottedMap<K, V> {
  private slotted = false;
  private slotKey: K | undefined;
  private slotValue: V | undefined;
  private readonly rest = new Map<K, V>();

  get size(): number {
    return (this.slotted ? 1 : 0) + this.rest.size;
  }

  get(key: K): V | undefined {
    if (this.slotted && this.slotKey === key) return this.slotValue;
    return this.rest.size === 0 ? undefined : this.rest.get(key);
  }

  has(key: K): boolean {
    return (this.slotted && this.slotKey === key) || (this.rest.size > 0 && this.rest.has(key));
  }

  set(key: K, value: V): void {
    if (this.slotted ? this.slotKey === key : this.rest.size === 0 || !this.rest.has(key)) {
      this.slotted = true;
      this.slotKey = key;
      this.slotValue = value;
      return;
    }
    this.rest.set(key, value);
  }

  delete(key: K): boolean {
    if (this.slotted && this.slotKey === key) {
      this.slotted = false;
      this.slotKey = undefined;
      this.slotValue = undefined;
      return true;
    }
    return this.rest.size > 0 && this.rest.delete(key);
  }

  clear(): void {
    this.slotted = false;
    this.slotKey = undefined;
    this.slotValue = undefined;
    this.rest.clear();
  }

  /** Calls `fn` for each key, in no particular order (no snapshot: `fn` must not add or delete). */
  forEachKey(fn: (key: K) => void): void {
    if (this.slotted) fn(this.slotKey as K);
    if (this.rest.size > 0) for (const key of this.rest.keys()) fn(key);
  }

  /** The keys, in no particular order; safe to delete from while iterating (a snapshot). */
  keys(): K[] {
    const keys = [...this.rest.keys()];
    if (this.slotted) keys.push(this.slotKey as K);
    return keys;
  }

  /** The entries, in no particular order (a snapshot). */
  entries(): [K, V][] {
    const entries = [...this.rest.entries()];
    if (this.slotted) entries.push([this.slotKey as K, this.slotValue as V]);
    return entries;
  }
}
