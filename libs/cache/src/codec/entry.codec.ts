import type { CacheEntry } from '../backends/cache-entry.js';
import { StoredEntry } from '../backends/cache-entry.js';
import { CacheError } from '../errors/cache.error.js';
import { ErrorMessages } from '../errors/error-messages.js';
import type { DecodeHints } from './value.codec.js';
import { decodeValue, encodeValue } from './value.codec.js';

const MAGIC = 0x54; // 'T'
const VERSION = 0x01;
/** Version byte flag: a tag-stamp section follows the value (see {@link stampEntry}). */
const STAMPED = 0x80;
const TOMBSTONE_VERSION = 0x00;
const MAX_STAMPS = 0xffff;
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
 * another error, and never touches a prototype. `hints`: see {@link decodeValue}.
 * @example const entry = decodeEntry(await redis.getBuffer(key))
 */
export function decodeEntry(buf: Buffer, hints?: DecodeHints): CacheEntry {
  if (hints !== undefined) hints.asciiJson = false;
  if (!Buffer.isBuffer(buf)) throw decodeFailed('not a Buffer');
  if (buf.length < 2) throw decodeFailed('truncated header');
  if (buf[0] !== MAGIC) throw decodeFailed('not an entry');
  const version = buf[1] ?? 0;
  if (version === TOMBSTONE_VERSION) throw decodeFailed('a tombstone, not an entry');
  if ((version & ~STAMPED) !== VERSION) throw decodeFailed(`unsupported version ${version}`);
  if (buf.length <= ENTRY_LAYOUT.value) throw decodeFailed('truncated header');
  const createdAt = buf.readDoubleBE(ENTRY_LAYOUT.createdAt);
  const expiresAt = buf.readDoubleBE(ENTRY_LAYOUT.expiresAt);
  if (Number.isNaN(createdAt) || Number.isNaN(expiresAt)) throw decodeFailed('invalid timestamps');
  const valueEnd = ENTRY_LAYOUT.value + buf.readUInt32BE(ENTRY_LAYOUT.valueLength);
  if (version === VERSION) {
    if (buf.length !== valueEnd) throw decodeFailed(buf.length < valueEnd ? 'truncated value' : 'trailing bytes');
    return new StoredEntry(decodeValue(buf, ENTRY_LAYOUT.value, hints), createdAt, expiresAt);
  }
  if (buf.length <= valueEnd) throw decodeFailed('truncated value');
  readStamps(buf, valueEnd);
  return new StoredEntry(decodeValue(buf.subarray(0, valueEnd), ENTRY_LAYOUT.value, hints), createdAt, expiresAt);
}

/**
 * The tag an entry carries and the tag's generation when the entry was written: the entry is valid only while the
 * tag's current generation is still this one (a tag invalidation replaces the generation, in O(1)).
 */
export interface TagStamp {
  readonly tag: string;
  readonly gen: string;
}

/**
 * Appends tag stamps to an encoded entry (flag {@link STAMPED} in the version byte, then after the value:
 * `uint16 count | per stamp: uint16 tag length, tag UTF-8, uint8 gen length, gen latin1`). An entry without stamps
 * is left as it is, so untagged entries keep the plain layout.
 * @example stampEntry(encodeEntry(entry), [{ tag: 'org:1', gen: 'k3Jx…' }])
 */
export function stampEntry(encoded: Buffer, stamps: readonly TagStamp[]): Buffer {
  if (stamps.length === 0) return encoded;
  if (encoded[1] !== VERSION || stamps.length > MAX_STAMPS)
    throw new CacheError(
      'E_MISUSE',
      ErrorMessages.misuse('stampEntry', 'stamps go once on an unstamped entry, ≤ 65535 of them', 'stamp once'),
    );
  let size = 2;
  for (const s of stamps) size += 3 + Buffer.byteLength(s.tag, 'utf8') + s.gen.length;
  const out = Buffer.allocUnsafe(encoded.length + size);
  encoded.copy(out, 0);
  out[1] = VERSION | STAMPED;
  let at = out.writeUInt16BE(stamps.length, encoded.length);
  for (const s of stamps) {
    const tagLength = out.write(s.tag, at + 2, 'utf8');
    at = out.writeUInt16BE(tagLength, at) + tagLength;
    at = out.writeUInt8(s.gen.length, at);
    at += out.write(s.gen, at, 'latin1');
  }
  return out;
}

/**
 * The tag stamps of an encoded entry (empty for an unstamped one); `E_DECODE` when the section is malformed.
 * @example entryStamps(raw).map((s) => s.tag)
 */
export function entryStamps(buf: Buffer): TagStamp[] {
  if (buf.length <= ENTRY_LAYOUT.value || buf[1] !== (VERSION | STAMPED)) return [];
  return readStamps(buf, ENTRY_LAYOUT.value + buf.readUInt32BE(ENTRY_LAYOUT.valueLength));
}

function readStamps(buf: Buffer, from: number): TagStamp[] {
  if (from + 2 > buf.length) throw decodeFailed('truncated tags');
  const count = buf.readUInt16BE(from);
  const stamps: TagStamp[] = [];
  let at = from + 2;
  for (let i = 0; i < count; i++) {
    if (at + 2 > buf.length) throw decodeFailed('truncated tags');
    const tagEnd = at + 2 + buf.readUInt16BE(at);
    if (tagEnd + 1 > buf.length) throw decodeFailed('truncated tags');
    const genEnd = tagEnd + 1 + (buf[tagEnd] ?? 0);
    if (genEnd > buf.length) throw decodeFailed('truncated tags');
    stamps.push({ tag: buf.toString('utf8', at + 2, tagEnd), gen: buf.toString('latin1', tagEnd + 1, genEnd) });
    at = genEnd;
  }
  if (at !== buf.length) throw decodeFailed('trailing bytes');
  return stamps;
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
