import { decodeEntry, ENTRY_LAYOUT, TOMBSTONE_MAGIC } from '../../codec/entry.codec.js';

/** The tombstone magic as bytes (what guarded writes compare a tombstone's head with). */
export const MAGIC = Buffer.from(TOMBSTONE_MAGIC, 'latin1');

/** The envelope times of an entry (bytes 3–18, what a live token names; the guarded SET compares them). */
export function entryTimes(times: { createdAt: number; expiresAt: number }): Buffer {
  const out = Buffer.alloc(ENTRY_LAYOUT.valueLength - ENTRY_LAYOUT.createdAt);
  out.writeDoubleBE(times.createdAt, ENTRY_LAYOUT.createdAt - ENTRY_LAYOUT.createdAt);
  out.writeDoubleBE(times.expiresAt, ENTRY_LAYOUT.expiresAt - ENTRY_LAYOUT.createdAt);
  return out;
}

/** Whether bytes are one of our value envelopes (not a tombstone, not garbage). */
export function isEntry(raw: Buffer): boolean {
  try {
    decodeEntry(raw);
    return true;
  } catch {
    return false;
  }
}

/** Whether the first item of a list is our list header (an envelope of `null`). */
export function isListHeader(raw: Buffer): boolean {
  try {
    return decodeEntry(raw).value === null;
  } catch {
    return false;
  }
}

/** Redis refused a write because maxmemory is reached under noeviction (scripts' errors start the same way). */
export function isOom(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('OOM');
}

export function isWrongType(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('WRONGTYPE');
}
