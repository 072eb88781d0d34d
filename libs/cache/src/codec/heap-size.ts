/** What one memory-tier entry costs besides its value: the LRU's slot, the entry envelope, its key and TTL arrays. */
export const ENTRY_OVERHEAD_BYTES = 240;

const HEADER = 24; // an object's map pointer, properties and elements pointers
const SLOT = 8; // one tagged field
const STRING_HEADER = 16;
const NON_LATIN1 = /[\u0100-\uffff]/;
const MAX_DEPTH = 1_000;
const OBJECT = Object.prototype;

/**
 * An estimate of the bytes a decoded value holds in this process — V8 heap plus external memory (Buffer bytes) — so
 * the memory tier's `maxBytes` bounds what the process really spends, whatever the value's shape (the encoded size
 * undercounts small objects by 2–3×). Walks the value once, when the tier stores it; values produced by the codec
 * have no cycles, and a shared child is counted each time (an overestimate, the safe side). `asciiJson`: the value
 * was parsed from ASCII JSON (`DecodeHints`), so the walk skips the string and class checks (same figure).
 * @example estimateHeapBytes({ id: 1, name: 'Ada' }) // ≈ 80
 */
export function estimateHeapBytes(value: unknown, asciiJson = false): number {
  return asciiJson ? jsonBytes(value, 0) : bytesOf(value, 0);
}

/**
 * What {@link estimateHeapBytes}`(value, true)` can be at most for a value parsed from ASCII JSON stored in `bytes`
 * bytes (its text, or anything that holds it: the text's length is what counts). Each construct of the text costs
 * at most 24 times its characters: an empty array or object costs 40 for its 2, and one more level of nesting adds
 * 48 (40 and the parent's slot) for 2 more characters; the ratio nears 24 only for deeply nested empty arrays.
 * Elements, properties, strings and numbers cost less per character (a slot or a header per comma, quote or digit).
 * @example jsonHeapBound(100) // 2400
 */
export function jsonHeapBound(bytes: number): number {
  return 24 * bytes;
}

/** {@link bytesOf} of a value parsed from ASCII JSON: plain objects, arrays and one-byte strings only. */
function jsonBytes(value: unknown, depth: number): number {
  switch (typeof value) {
    case 'string':
      return STRING_HEADER + Math.ceil(value.length / 8) * 8;
    case 'number':
      return Number.isInteger(value) && Math.abs(value) < 2 ** 30 ? 0 : 16;
    case 'object': {
      if (value === null) return 0;
      if (depth > MAX_DEPTH) return HEADER;
      if (Array.isArray(value)) {
        let bytes = HEADER + 16 + value.length * SLOT;
        for (let i = 0; i < value.length; i++) bytes += jsonBytes(value[i], depth + 1);
        return bytes;
      }
      let bytes = HEADER + 16;
      let count = 0;
      for (const key in value) {
        count++;
        bytes += jsonBytes((value as Record<string, unknown>)[key], depth + 1);
      }
      return bytes + recordSlots(count);
    }
    default:
      return 0;
  }
}

function bytesOf(value: unknown, depth: number): number {
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
      if (depth > MAX_DEPTH) return HEADER;
      if (Array.isArray(value)) return arrayBytes(value, depth + 1);
      // A plain object first: one prototype read instead of a test per class.
      return Object.getPrototypeOf(value) === OBJECT ? recordBytes(value, depth + 1) : objectBytes(value, depth + 1);
    default:
      return 0;
  }
}

function stringBytes(text: string): number {
  // Up to 4 characters, one byte or two each round up to the same 8: no need to look.
  const width = text.length > 4 && NON_LATIN1.test(text) ? 2 : 1;
  return STRING_HEADER + Math.ceil((text.length * width) / 8) * 8;
}

function arrayBytes(value: readonly unknown[], depth: number): number {
  let bytes = HEADER + 16 + value.length * SLOT;
  for (let i = 0; i < value.length; i++) bytes += bytesOf(value[i], depth);
  return bytes;
}

function recordBytes(value: object, depth: number): number {
  // In-object or backing-store slots; key strings are internalized (shared), hidden classes shared.
  let bytes = HEADER + 16;
  let count = 0;
  for (const key in value) {
    count++;
    bytes += bytesOf((value as Record<string, unknown>)[key], depth);
  }
  return bytes + recordSlots(count);
}

/** A record's property slots: in-object or backing store; past ~128 properties a dictionary, ~3 slots plus the key. */
function recordSlots(count: number): number {
  return count > 128 ? count * 3 * SLOT + count * 24 : count * SLOT;
}

function objectBytes(value: object, depth: number): number {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return 96 + value.byteLength;
  if (value instanceof Date) return HEADER + 16;
  if (value instanceof Map) {
    // A hash table of ~3 slots per entry over a 2× capacity, plus the keys and values themselves.
    let bytes = HEADER + 64 + value.size * 6 * SLOT;
    for (const [k, v] of value) bytes += bytesOf(k, depth) + bytesOf(v, depth);
    return bytes;
  }
  if (value instanceof Set) {
    let bytes = HEADER + 64 + value.size * 4 * SLOT;
    for (const item of value) bytes += bytesOf(item, depth);
    return bytes;
  }
  // Any other object (a null-prototype record, a class instance): its own enumerable properties, as a record.
  return recordBytes(value, depth);
}
