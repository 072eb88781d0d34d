/** Slots of a memo: a power of two, so an id's slot is its low bits. */
const SLOTS = 1024;
const MASK = SLOTS - 1;

/**
 * The entry keys of one namespace's integer ids, each built once and then reused: a direct-mapped table of 1,024
 * slots (an id's slot is its low bits; a colliding id replaces the one there). A reused key string carries its hash,
 * so the memory tier's lookup hashes nothing and compares one pointer, and nothing is built or flattened per call.
 * Only ids from 0 to 2^31 − 1 are kept (never -0, whose key differs from 0's); any other key is built every time.
 * Bounded: 1,024 keys per memo, allocated at its first id.
 * @example const memo = new IdKeyMemo((id) => space.entryUnder(prefix, id)); memo.key(42) // 'app:user:=n42'
 */
export class IdKeyMemo {
  private ids: number[] | undefined;
  private keys: string[] | undefined;

  constructor(private readonly build: (id: number) => string) {}

  key(id: number): string {
    // An int32 at least 0 (`1 / id` tells -0 from 0): its slot; anything else is built.
    if ((id | 0) !== id || id < 0 || (id === 0 && 1 / id < 0)) return this.build(id);
    const slot = id & MASK;
    const ids = this.ids ?? this.allocate();
    if (ids[slot] === id) return this.keys![slot]!;
    const key = this.build(id);
    ids[slot] = id;
    this.keys![slot] = key;
    return key;
  }

  private allocate(): number[] {
    this.keys = new Array<string>(SLOTS).fill('');
    return (this.ids = new Array<number>(SLOTS).fill(-1));
  }
}
