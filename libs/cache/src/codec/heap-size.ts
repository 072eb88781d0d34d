/** What one memory-tier entry costs besides its value: the LRU's slot, the entry envelope, its key and TTL arrays. */
export const ENTRY_OVERHEAD_BYTES = 240;

const HEADER = 24; // an object's map pointer, properties and elements pointers
const SLOT = 8; // one tagged field
const STRING_HEADER = 16;
const NON_LATIN1 = /[\u0100-\uffff]/;

/**
 * An estimate of the bytes a decoded value holds in this process — V8 heap plus external memory (Buffer bytes) — so
 * the memory tier's `maxBytes` bounds what the process really spends, whatever the value's shape (the encoded size
 * undercounts small objects by 2–3×). Walks the value once, on writes only; values produced by the codec have no
 * cycles, and a shared child is counted each time (an overestimate, the safe side).
 * @example estimateHeapBytes({ id: 1, name: 'Ada' }) // ≈ 80
 */
export function estimateHeapBytes(value: unknown, depth = 0): number {
  switch (typeof value) {
    case 'string':
      return stringBytes(value);
    case 'number':
      // A Smi fits the slot; a double is a boxed HeapNumber.
      return Number.isInteger(value) && Math.abs(value) < 2 ** 30 ? 0 : 16;
    case 'bigint':
      return 16 + 8 * Math.ceil(value.toString(16).length / 16);
    case 'object':
      if (value === null) return 0;
      if (depth > 1_000) return HEADER;
      return objectBytes(value, depth + 1);
    default:
      return 0;
  }
}

function stringBytes(text: string): number {
  const width = text.length > 0 && NON_LATIN1.test(text) ? 2 : 1;
  return STRING_HEADER + Math.ceil((text.length * width) / 8) * 8;
}

function objectBytes(value: object, depth: number): number {
  if (Array.isArray(value)) {
    let bytes = HEADER + 16 + value.length * SLOT;
    for (const item of value) bytes += estimateHeapBytes(item, depth);
    return bytes;
  }
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return 96 + value.byteLength;
  if (value instanceof Date) return HEADER + 16;
  if (value instanceof Map) {
    // A hash table of ~3 slots per entry over a 2× capacity, plus the keys and values themselves.
    let bytes = HEADER + 64 + value.size * 6 * SLOT;
    for (const [k, v] of value) bytes += estimateHeapBytes(k, depth) + estimateHeapBytes(v, depth);
    return bytes;
  }
  if (value instanceof Set) {
    let bytes = HEADER + 64 + value.size * 4 * SLOT;
    for (const item of value) bytes += estimateHeapBytes(item, depth);
    return bytes;
  }
  // Plain object: in-object or backing-store slots; key strings are internalized (shared), hidden classes shared.
  let bytes = HEADER + 16;
  let count = 0;
  for (const key in value) {
    count++;
    bytes += estimateHeapBytes((value as Record<string, unknown>)[key], depth);
  }
  // Past ~128 properties V8 switches to a dictionary: ~3 slots per property plus the key.
  return bytes + (count > 128 ? count * 3 * SLOT + count * 24 : count * SLOT);
}
