import type { KeySpace } from '../keys/key-space.js';

/** What crosses the bus: keys, tags or a key prefix — never values. */
export interface InvalidationMessage {
  /** Format version. */
  v: 1;
  /** The module prefix of the sender; messages of another prefix are ignored. */
  p: string;
  /** Sender instance id; an instance ignores its own messages. */
  o: string;
  keys?: string[];
  tags?: string[];
  /** A key prefix that was cleared (namespace clear). */
  clear?: string;
}

/** Parses a bus payload; anything malformed or foreign is null (ignored, never thrown). */
export function parseInvalidationMessage(raw: string, space: KeySpace): InvalidationMessage | null {
  const prefix = space.prefix;
  let msg: unknown;
  try {
    msg = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof msg !== 'object' || msg === null) return null;
  const m = msg as Record<string, unknown>;
  if (m.v !== 1 || m.p !== prefix || typeof m.o !== 'string') return null;
  const own = (k: unknown): k is string => space.owns(k);
  const keys = Array.isArray(m.keys) ? m.keys.filter(own) : undefined;
  const tags = Array.isArray(m.tags) ? m.tags.filter((t): t is string => typeof t === 'string') : undefined;
  const clear = own(m.clear) ? m.clear : undefined;
  return { v: 1, p: prefix, o: m.o, ...(keys ? { keys } : {}), ...(tags ? { tags } : {}), ...(clear ? { clear } : {}) };
}
