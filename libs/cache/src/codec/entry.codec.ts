import type { CacheEntry } from '../backends/cache-entry.js';
import { CacheError } from '../errors/cache.error.js';
import { ErrorMessages } from '../errors/error-messages.js';
import { decodeValue, encodeValue } from './value.codec.js';

const MAGIC = 0x54; // 'T'
const VERSION = 0x01;
const TOMBSTONE_VERSION = 0x00;
const TOMBSTONE_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * Byte offsets of an entry envelope, for code (and Lua) that reads fields without decoding:
 * `54 01 | float64 BE createdAt | float64 BE expiresAt | uint32 BE value length | value bytes`.
 * The value length makes any truncation or trailing garbage detectable.
 * @example buf.readDoubleBE(ENTRY_LAYOUT.expiresAt)
 */
export const ENTRY_LAYOUT = { createdAt: 2, expiresAt: 10, valueLength: 18, value: 22 } as const;

/**
 * The first two bytes of an entry of this schema version, as a latin1 string. Any other version decodes as
 * `E_DECODE` (a miss), so a schema change needs no migration.
 * @example Buffer.from(ENTRY_MAGIC, 'latin1') // <54 01>
 */
export const ENTRY_MAGIC = String.fromCharCode(MAGIC, VERSION);

/**
 * The first two bytes of a tombstone, as a latin1 string (a Lua script compares `string.sub(v, 1, 2)` to it).
 * @example Buffer.from(TOMBSTONE_MAGIC, 'latin1') // <54 00>
 */
export const TOMBSTONE_MAGIC = String.fromCharCode(MAGIC, TOMBSTONE_VERSION);

/**
 * Encodes an entry into the envelope stored in Redis (layout: {@link ENTRY_LAYOUT}).
 * Throws `E_UNSERIALIZABLE_VALUE` for a value the value codec refuses or a NaN timestamp.
 * @example encodeEntry({ value: { id: 1 }, createdAt: Date.now(), expiresAt: Date.now() + 60_000 })
 */
export function encodeEntry(entry: CacheEntry): Buffer {
  if (Number.isNaN(entry.createdAt) || Number.isNaN(entry.expiresAt)) {
    throw new CacheError('E_UNSERIALIZABLE_VALUE', ErrorMessages.unserializableValue('an entry with a NaN timestamp'));
  }
  const out = encodeValue(entry.value, ENTRY_LAYOUT.value);
  out[0] = MAGIC;
  out[1] = VERSION;
  out.writeDoubleBE(entry.createdAt, ENTRY_LAYOUT.createdAt);
  out.writeDoubleBE(entry.expiresAt, ENTRY_LAYOUT.expiresAt);
  out.writeUInt32BE(out.length - ENTRY_LAYOUT.value, ENTRY_LAYOUT.valueLength);
  return out;
}

/**
 * Decodes an envelope written by {@link encodeEntry}. Anything else — truncated or extended bytes, another schema
 * version, a tombstone (check {@link tombstoneId} first), garbage — throws `CacheError('E_DECODE')`, never
 * another error, and never touches a prototype.
 * @example const entry = decodeEntry(await redis.getBuffer(key))
 */
export function decodeEntry(buf: Buffer): CacheEntry {
  if (!Buffer.isBuffer(buf)) throw decodeFailed('not a Buffer');
  if (buf.length < 2) throw decodeFailed('truncated header');
  if (buf[0] !== MAGIC) throw decodeFailed('not an entry');
  if (buf[1] === TOMBSTONE_VERSION) throw decodeFailed('a tombstone, not an entry');
  if (buf[1] !== VERSION) throw decodeFailed(`unsupported version ${buf[1] ?? '?'}`);
  if (buf.length <= ENTRY_LAYOUT.value) throw decodeFailed('truncated header');
  const createdAt = buf.readDoubleBE(ENTRY_LAYOUT.createdAt);
  const expiresAt = buf.readDoubleBE(ENTRY_LAYOUT.expiresAt);
  if (Number.isNaN(createdAt) || Number.isNaN(expiresAt)) throw decodeFailed('invalid timestamps');
  const expected = ENTRY_LAYOUT.value + buf.readUInt32BE(ENTRY_LAYOUT.valueLength);
  if (buf.length !== expected) throw decodeFailed(buf.length < expected ? 'truncated value' : 'trailing bytes');
  return { value: decodeValue(buf, ENTRY_LAYOUT.value), createdAt, expiresAt };
}

/**
 * Encodes a tombstone: {@link TOMBSTONE_MAGIC} followed by `id` in ASCII. `id` must be 1–128 printable ASCII
 * characters without spaces (a UUID is fine), else `E_MISUSE`.
 * @example encodeTombstone(randomUUID())
 */
export function encodeTombstone(id: string): Buffer {
  if (!TOMBSTONE_ID.test(id)) {
    throw new CacheError(
      'E_MISUSE',
      ErrorMessages.misuse(
        'encodeTombstone',
        'a tombstone id must be 1-128 printable ASCII characters',
        'use randomUUID()',
      ),
    );
  }
  const out = Buffer.allocUnsafe(2 + id.length);
  out[0] = MAGIC;
  out[1] = TOMBSTONE_VERSION;
  out.write(id, 2, 'latin1');
  return out;
}

/**
 * The id of a tombstone, or null when `buf` is not a well-formed tombstone (then it is an entry or garbage).
 * @example tombstoneId(encodeTombstone('abc')) // 'abc'
 */
export function tombstoneId(buf: Buffer): string | null {
  if (!Buffer.isBuffer(buf) || buf.length < 3 || buf.length > 130 || buf[0] !== MAGIC || buf[1] !== TOMBSTONE_VERSION) {
    return null;
  }
  for (let i = 2; i < buf.length; i++) {
    const byte = buf[i] ?? 0;
    if (byte < 0x21 || byte > 0x7e) return null;
  }
  return buf.toString('latin1', 2);
}

function decodeFailed(reason: string): CacheError {
  return new CacheError('E_DECODE', ErrorMessages.decodeFailed(reason));
}
