import { types } from 'node:util';
import { CacheError } from '../errors/cache.error.js';
import { ErrorMessages } from '../errors/error-messages.js';

/**
 * The first byte of an encoded value: how the payload after it is stored.
 * `json`: plain JSON (UTF-8), decoded by one `JSON.parse`; `tagged`: JSON with tagged objects for the types JSON
 * lacks, decoded by a walk; `bytes`: a top-level Buffer stored as raw bytes.
 */
export const ValueKind = { json: 0x6a, tagged: 0x74, bytes: 0x62 } as const;

/** How deep a value may nest (arrays, objects, maps, sets) to be stored, and to be decoded. */
export const MAX_VALUE_DEPTH = 1000;

/** What {@link decodeValue} learnt of a value while decoding it (a caller's scratch object, written on each call). */
export interface DecodeHints {
  /**
   * Plain JSON parsed from ASCII text without `\u` escapes: the value holds only plain objects, arrays, numbers,
   * booleans, null and one-byte strings (its heap estimate need not look at strings or classes).
   */
  asciiJson: boolean;
}

/** The tag key of tagged JSON; a plain object that has it is wrapped as `{"$t":"$","v":{...}}`. */
const TAG = '$t';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BIGINT = /^-?(?:0|[1-9][0-9]*)$/;
const MAX_TIME = 8.64e15;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The encoder's walk state: ancestors for cycle detection, the path for error messages. */
interface EncodeState {
  readonly ancestors: Set<object>;
  readonly path: string[];
}

/**
 * Encodes a value into bytes that {@link decodeValue} turns back into an equal value: JSON types, -0, NaN,
 * ±Infinity, bigint, Date (also invalid), Buffer (decodes to a Buffer), Uint8Array, Map and Set (any keys), with
 * any nesting. Decisions: object properties whose value is `undefined` are dropped (as in JSON); `undefined` in
 * arrays, maps and sets is kept; array holes become `undefined`; symbol-keyed properties are ignored; a class
 * instance is stored as its `toJSON()` result if it has one, otherwise as its own enumerable properties, and
 * decodes to a plain object. Functions, symbols, promises, weak collections, RegExp, errors, boxed primitives,
 * typed arrays other than Uint8Array, cycles and nesting deeper than {@link MAX_VALUE_DEPTH} throw
 * `E_UNSERIALIZABLE_VALUE`.
 * @param headroom bytes left zeroed in front of the value, for an envelope header (saves a copy of large values)
 * @example decodeValue(encodeValue(new Map([[1n, -0]]))) // Map { 1n => -0 }
 */
export function encodeValue(value: unknown, headroom = 0): Buffer {
  if (Buffer.isBuffer(value)) {
    const out = Buffer.allocUnsafe(headroom + 1 + value.length);
    out.fill(0, 0, headroom);
    out[headroom] = ValueKind.bytes;
    value.copy(out, headroom + 1);
    return out;
  }
  const state: EncodeState = { ancestors: new Set(), path: [] };
  if (isPlainJson(value, state, 0)) return withKind(ValueKind.json, JSON.stringify(value), headroom);
  return withKind(ValueKind.tagged, JSON.stringify(toTagged(value, state, 0)), headroom);
}

/**
 * Decodes bytes written by {@link encodeValue}, from `offset` to the end of `buf`. Safe on attacker-written
 * bytes: never changes a prototype, and any malformed input throws `CacheError('E_DECODE')` (never another error).
 * A Buffer is returned as a copy, independent of `buf`. `hints`, when given, is told what the value is made of.
 * @example decodeValue(encodeValue({ a: 1 })) // { a: 1 }
 */
export function decodeValue(buf: Buffer, offset = 0, hints?: DecodeHints): unknown {
  if (hints !== undefined) hints.asciiJson = false;
  if (!Buffer.isBuffer(buf)) throw decodeFailed('not a Buffer');
  if (!Number.isInteger(offset) || offset < 0 || offset >= buf.length) throw decodeFailed('no value bytes');
  const kind = buf[offset];
  try {
    switch (kind) {
      case ValueKind.json: {
        const text = buf.toString('utf8', offset + 1);
        const value: unknown = JSON.parse(text);
        if (hints !== undefined) hints.asciiJson = isAsciiJson(text, buf.length - offset - 1);
        return value;
      }
      case ValueKind.tagged:
        return fromTagged(JSON.parse(buf.toString('utf8', offset + 1)), 0);
      case ValueKind.bytes:
        return Buffer.from(buf.subarray(offset + 1));
      default:
        throw decodeFailed('unknown value kind');
    }
  } catch (err) {
    if (err instanceof CacheError) throw err;
    // Not attached as cause: a SyntaxError quotes the payload, and cached values must never reach a log.
    throw decodeFailed(
      err instanceof SyntaxError ? 'invalid JSON' : `${err instanceof Error ? err.name : 'error'} while decoding`,
    );
  }
}

/**
 * Whether JSON text decoded from `bytes` UTF-8 bytes is ASCII without `\u` escapes, so every string it parses to is
 * one byte per character. One character per byte with no replacement character: every byte was ASCII (a multi-byte
 * sequence decodes to fewer characters than bytes, an invalid byte to U+FFFD). The two searches took ~20 ns each on
 * a 300-byte text here.
 */
function isAsciiJson(text: string, bytes: number): boolean {
  return text.length === bytes && !text.includes('\ufffd') && !text.includes('\\u');
}

function withKind(kind: number, json: string, headroom: number): Buffer {
  const length = Buffer.byteLength(json, 'utf8');
  const out = Buffer.allocUnsafe(headroom + 1 + length);
  out.fill(0, 0, headroom);
  out[headroom] = kind;
  out.write(json, headroom + 1, length, 'utf8');
  return out;
}

/** True when `JSON.parse(JSON.stringify(value))` gives back an equal value; false on anything else. */
function isPlainJson(value: unknown, state: EncodeState, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth >= MAX_VALUE_DEPTH || state.ancestors.has(value)) return false;
  let plain: boolean;
  state.ancestors.add(value);
  // JSON.stringify would call a toJSON method (even an array's): leave those to the tagged walk.
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') plain = false;
  else if (Array.isArray(value)) plain = isPlainArray(value, state, depth + 1);
  else plain = isRecord(value) && isPlainRecord(value, state, depth + 1);
  state.ancestors.delete(value);
  return plain;
}

function isPlainArray(array: readonly unknown[], state: EncodeState, depth: number): boolean {
  for (let i = 0; i < array.length; i++) {
    // JSON turns holes and undefined into null.
    if (!(i in array) || array[i] === undefined || !isPlainJson(array[i], state, depth)) return false;
  }
  return true;
}

function isPlainRecord(record: object, state: EncodeState, depth: number): boolean {
  for (const key of Object.keys(record)) {
    const item = (record as Record<string, unknown>)[key];
    if (item !== undefined && !isPlainJson(item, state, depth)) return false;
  }
  return true;
}

/** A plain object, or a class instance that is stored as one (not a built-in with hidden state). */
function isRecord(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return true;
  return !isBuiltin(value);
}

function isBuiltin(value: object): boolean {
  return (
    types.isDate(value) ||
    types.isArrayBufferView(value) ||
    types.isAnyArrayBuffer(value) ||
    types.isMap(value) ||
    types.isSet(value) ||
    unsupportedKind(value) !== undefined
  );
}

function toTagged(value: unknown, state: EncodeState, depth: number): Json {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0)
        ? value
        : { [TAG]: 'n', v: Object.is(value, -0) ? '-0' : String(value) };
    case 'undefined':
      return { [TAG]: 'u' };
    case 'bigint':
      return { [TAG]: 'big', v: value.toString() };
    case 'object':
      return value === null ? null : enterObject(value, state, depth);
    case 'symbol':
      throw unencodable('a symbol', state);
    default:
      throw unencodable('a function', state);
  }
}

function enterObject(value: object, state: EncodeState, depth: number): Json {
  if (depth >= MAX_VALUE_DEPTH) throw unencodable(`a structure nested deeper than ${MAX_VALUE_DEPTH} levels`, state);
  if (state.ancestors.has(value)) throw unencodable('a cyclic structure', state);
  state.ancestors.add(value);
  const out = objectToTagged(value, state, depth + 1);
  state.ancestors.delete(value);
  return out;
}

function objectToTagged(value: object, state: EncodeState, depth: number): Json {
  if (Array.isArray(value)) {
    const out: Json[] = [];
    for (let i = 0; i < value.length; i++) out.push(child(value[i], `[${i}]`, state, depth));
    return out;
  }
  if (types.isDate(value)) {
    const time = Date.prototype.getTime.call(value);
    return { [TAG]: 'Date', v: Number.isNaN(time) ? null : time };
  }
  if (types.isUint8Array(value)) {
    const base64 = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
    return { [TAG]: Buffer.isBuffer(value) ? 'Buf' : 'U8', v: base64 };
  }
  if (types.isArrayBufferView(value) || types.isAnyArrayBuffer(value)) {
    throw unencodable('binary data other than Buffer or Uint8Array', state);
  }
  if (types.isMap(value)) {
    const entries: Json[] = [];
    let i = 0;
    for (const [key, item] of Map.prototype.entries.call(value)) {
      entries.push([child(key, `<map key ${i}>`, state, depth), child(item, `<map value ${i}>`, state, depth)]);
      i++;
    }
    return { [TAG]: 'Map', v: entries };
  }
  if (types.isSet(value)) {
    const items: Json[] = [];
    for (const item of Set.prototype.values.call(value))
      items.push(child(item, `<set item ${items.length}>`, state, depth));
    return { [TAG]: 'Set', v: items };
  }
  const unsupported = unsupportedKind(value);
  if (unsupported !== undefined) throw unencodable(unsupported, state);
  const proto: unknown = Object.getPrototypeOf(value);
  const toJSON: unknown = (value as { toJSON?: unknown }).toJSON;
  if (proto !== Object.prototype && proto !== null && typeof toJSON === 'function') {
    return child(toJSON.call(value, ''), '.toJSON()', state, depth);
  }
  const out: { [key: string]: Json } = {};
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    if (item !== undefined) setOwn(out, key, child(item, `.${key.slice(0, 40)}`, state, depth));
  }
  return Object.hasOwn(out, TAG) ? { [TAG]: '$', v: out } : out;
}

function child(value: unknown, segment: string, state: EncodeState, depth: number): Json {
  state.path.push(segment);
  const out = toTagged(value, state, depth);
  state.path.pop();
  return out;
}

/** Rebuilds the values JSON lacks, in place. `depth` counts logical containers, as the encoder does. */
function fromTagged(node: unknown, depth: number): unknown {
  if (typeof node !== 'object' || node === null) return node;
  if (Array.isArray(node)) {
    checkDepth(depth);
    for (let i = 0; i < node.length; i++) {
      const item: unknown = node[i];
      if (typeof item === 'object' && item !== null) node[i] = fromTagged(item, depth + 1);
    }
    return node;
  }
  if (Object.hasOwn(node, TAG)) return fromTag(node as Record<string, unknown>, depth);
  checkDepth(depth);
  return walkRecord(node, depth);
}

/** Containers, dates and bytes count towards the depth; the primitive tags (u, n, big) do not, as when encoding. */
function checkDepth(depth: number): void {
  if (depth >= MAX_VALUE_DEPTH) throw decodeFailed('nested too deep');
}

function walkRecord(record: object, depth: number): object {
  const fields = record as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const item = fields[key];
    if (typeof item !== 'object' || item === null) continue;
    const decoded = fromTagged(item, depth + 1);
    if (decoded !== item) setOwn(fields, key, decoded);
  }
  return record;
}

function fromTag(node: Record<string, unknown>, depth: number): unknown {
  const tag = node[TAG];
  const v = node['v'];
  const size = Object.keys(node).length;
  if (tag === 'u') {
    if (size !== 1) throw decodeFailed('malformed tag');
    return undefined;
  }
  if (size !== 2 || !Object.hasOwn(node, 'v')) throw decodeFailed('malformed tag');
  if (tag !== 'n' && tag !== 'big') checkDepth(depth);
  switch (tag) {
    case 'n':
      if (v === '-0') return -0;
      if (v === 'NaN') return NaN;
      if (v === 'Infinity') return Infinity;
      if (v === '-Infinity') return -Infinity;
      throw decodeFailed('malformed number');
    case 'big':
      if (typeof v !== 'string' || !BIGINT.test(v)) throw decodeFailed('malformed bigint');
      return BigInt(v);
    case 'Date':
      if (v === null) return new Date(NaN);
      if (typeof v !== 'number' || !Number.isInteger(v) || Math.abs(v) > MAX_TIME) throw decodeFailed('malformed date');
      return new Date(v);
    case 'Buf':
      return base64Bytes(v);
    case 'U8':
      return new Uint8Array(base64Bytes(v));
    case 'Map':
      return decodeMap(v, depth);
    case 'Set':
      if (!Array.isArray(v)) throw decodeFailed('malformed set');
      return new Set(v.map((item: unknown) => fromTagged(item, depth + 1)));
    case '$':
      if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, TAG))
        throw decodeFailed('malformed escape');
      return walkRecord(v, depth);
    default:
      throw decodeFailed('unknown tag');
  }
}

function decodeMap(entries: unknown, depth: number): Map<unknown, unknown> {
  if (!Array.isArray(entries)) throw decodeFailed('malformed map');
  const map = new Map<unknown, unknown>();
  for (const entry of entries as unknown[]) {
    if (!Array.isArray(entry) || entry.length !== 2) throw decodeFailed('malformed map entry');
    map.set(fromTagged(entry[0], depth + 1), fromTagged(entry[1], depth + 1));
  }
  return map;
}

function base64Bytes(v: unknown): Buffer {
  if (typeof v !== 'string' || !BASE64.test(v)) throw decodeFailed('malformed base64');
  return Buffer.from(v, 'base64');
}

/** Never `record[key] = value`: for key `__proto__` on an object without that own property it sets the prototype. */
function setOwn(record: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true });
  else record[key] = value;
}

/** Built-ins whose state is not in their enumerable properties: storing them as objects would lose it. */
function unsupportedKind(value: object): string | undefined {
  if (types.isPromise(value)) return 'a Promise (missing await?)';
  if (types.isRegExp(value)) return 'a RegExp';
  if (types.isWeakMap(value) || types.isWeakSet(value) || value instanceof WeakRef)
    return 'a weak reference or collection';
  if (types.isNativeError(value)) return 'an Error';
  if (types.isBoxedPrimitive(value)) return 'a boxed primitive';
  if (types.isGeneratorObject(value) || types.isMapIterator(value) || types.isSetIterator(value)) return 'an iterator';
  return undefined;
}

function unencodable(what: string, state: EncodeState): CacheError {
  const at = state.path.length === 0 ? '' : ` at $${state.path.join('')}`;
  return new CacheError('E_UNSERIALIZABLE_VALUE', ErrorMessages.unserializableValue(`${what}${at}`));
}

function decodeFailed(reason: string): CacheError {
  return new CacheError('E_DECODE', ErrorMessages.decodeFailed(reason));
}
