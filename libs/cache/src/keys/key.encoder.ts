import { types } from 'node:util';
import { CacheError } from '../errors/cache.error.js';
import { ErrorMessages } from '../errors/error-messages.js';

/** How deep arguments may nest before the call bypasses the cache. */
export const MAX_KEY_DEPTH = 64;

/** Which argument is being encoded (-1: a user-given key), for error messages; `ancestors` detects cycles. */
interface EncodeState {
  argument: number;
  readonly ancestors: object[];
}

/**
 * Encodes a method's argument list into a stable, injective, typed string: values that differ in type or content
 * never share a key, and structurally equal values always do.
 *
 * Grammar (each value is self-delimiting, arguments are joined by `,`):
 * `u` undefined, `z` null, `t`/`f` booleans, `n<String(n)>` numbers (`n-0`, `nNaN`, `nInfinity`), `b<digits>`
 * bigints, `s<length>:<chars>` strings (UTF-16 length, no Unicode normalization), `d<getTime()>` dates (`dNaN`),
 * `B<byteLength>:<base64>` Buffer and Uint8Array (same bytes, same key), `A<string name>B…` other typed arrays,
 * DataView and ArrayBuffer, `[a,b]` arrays (holes read as undefined), `{<string key>=<value>,…}` plain objects with
 * keys sorted, `C<length>:<constructor name>{…}` class instances (own enumerable properties only: state in
 * private fields or closures is not seen, and two classes with the same name are not told apart), `M{<k>=<v>,…}`
 * maps and `S[…]` sets with entries sorted by their encoding.
 *
 * Object properties whose value is `undefined` are skipped (as in JSON): `{ a: 1, b: undefined }` and `{ a: 1 }`
 * give the same key. Functions, symbols (as values or enumerable keys), promises, weak collections, RegExp,
 * errors, boxed primitives, proxies of built-ins or class instances, cycles and nesting deeper than
 * {@link MAX_KEY_DEPTH} throw `E_UNSERIALIZABLE_KEY`, so the call bypasses the cache.
 * @example encodeArgs([42, 'a']) // 'n42,s1:a'
 */
export function encodeArgs(args: readonly unknown[]): string {
  if (args.length === 1) {
    const only = args[0];
    if (typeof only === 'number') return encodeNumber(only);
    if (typeof only === 'string') return encodeString(only);
  }
  const state: EncodeState = { argument: 0, ancestors: [] };
  let out = '';
  for (let i = 0; i < args.length; i++) {
    state.argument = i;
    out += i === 0 ? encode(args[i], state, 0) : `,${encode(args[i], state, 0)}`;
  }
  return out;
}

/** The typed encoding of one number (`n42`, `n-0`, `nNaN`). */
export function encodeNumber(n: number): string {
  if (n === 0) return Object.is(n, -0) ? 'n-0' : 'n0';
  return `n${n}`;
}

function encodeString(s: string): string {
  return `s${s.length}:${s}`;
}

function encode(value: unknown, state: EncodeState, depth: number): string {
  switch (typeof value) {
    case 'number':
      return encodeNumber(value);
    case 'string':
      return encodeString(value);
    case 'boolean':
      return value ? 't' : 'f';
    case 'undefined':
      return 'u';
    case 'bigint':
      return `b${value}`;
    case 'object':
      return value === null ? 'z' : encodeObject(value, state, depth);
    case 'symbol':
      throw fail('a symbol', state);
    default:
      throw fail('a function', state);
  }
}

function encodeObject(value: object, state: EncodeState, depth: number): string {
  if (depth >= MAX_KEY_DEPTH) throw fail(`a structure nested deeper than ${MAX_KEY_DEPTH} levels`, state);
  // Ancestors only (not every object seen): a shared, non-cyclic object may appear twice.
  if (state.ancestors.includes(value)) throw fail('a cyclic structure', state);
  state.ancestors.push(value);
  const out = encodeContainer(value, state, depth + 1);
  state.ancestors.pop();
  return out;
}

function encodeContainer(value: object, state: EncodeState, depth: number): string {
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++)
      out += i === 0 ? encode(value[i], state, depth) : `,${encode(value[i], state, depth)}`;
    return `${out}]`;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return encodeProps(value, state, depth);
  if (types.isDate(value)) return `d${Date.prototype.getTime.call(value)}`;
  if (types.isUint8Array(value)) return encodeBytes(value);
  if (types.isArrayBufferView(value)) return `A${encodeString(binaryName(value))}${encodeBytes(value)}`;
  if (types.isAnyArrayBuffer(value)) {
    const name = types.isSharedArrayBuffer(value) ? 'SharedArrayBuffer' : 'ArrayBuffer';
    return `A${encodeString(name)}${encodeBytes(new Uint8Array(value))}`;
  }
  if (types.isMap(value)) return encodeMap(value, state, depth);
  if (types.isSet(value)) return encodeSet(value, state, depth);
  const unsupported = unsupportedKind(value);
  if (unsupported !== undefined) throw fail(unsupported, state);
  const name = constructorName(proto);
  return `C${name.length}:${name}${encodeProps(value, state, depth)}`;
}

function encodeProps(value: object, state: EncodeState, depth: number): string {
  for (const sym of Object.getOwnPropertySymbols(value)) {
    if (Object.prototype.propertyIsEnumerable.call(value, sym)) throw fail('a symbol-keyed property', state);
  }
  const keys = Object.keys(value).sort();
  const record = value as Record<string, unknown>;
  let out = '{';
  for (const key of keys) {
    const item = record[key];
    if (item === undefined) continue;
    out += `${out.length === 1 ? '' : ','}${encodeString(key)}=${encode(item, state, depth)}`;
  }
  return `${out}}`;
}

function encodeMap(map: Map<unknown, unknown>, state: EncodeState, depth: number): string {
  const entries: string[] = [];
  for (const [key, item] of Map.prototype.entries.call(map))
    entries.push(`${encode(key, state, depth)}=${encode(item, state, depth)}`);
  return `M{${entries.sort().join(',')}}`;
}

function encodeSet(set: Set<unknown>, state: EncodeState, depth: number): string {
  const items: string[] = [];
  for (const item of Set.prototype.values.call(set)) items.push(encode(item, state, depth));
  return `S[${items.sort().join(',')}]`;
}

function encodeBytes(view: ArrayBufferView): string {
  return `B${view.byteLength}:${Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64')}`;
}

/** %TypedArray%.prototype[Symbol.toStringTag]: the real element type, whatever a subclass claims. */
const typedArrayTag = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Int8Array.prototype) as object,
  Symbol.toStringTag,
)?.get;

function binaryName(view: ArrayBufferView): string {
  const tag: unknown = typedArrayTag?.call(view);
  return typeof tag === 'string' ? tag : 'DataView';
}

function constructorName(proto: unknown): string {
  const ctor: unknown = (proto as { constructor?: unknown }).constructor;
  const name: unknown = typeof ctor === 'function' ? ctor.name : undefined;
  return typeof name === 'string' ? name : '';
}

/** Built-ins whose state is not in their enumerable properties: encoding them as objects would collide. */
function unsupportedKind(value: object): string | undefined {
  if (types.isPromise(value)) return 'a Promise';
  if (types.isRegExp(value)) return 'a RegExp';
  if (types.isWeakMap(value) || types.isWeakSet(value) || value instanceof WeakRef)
    return 'a weak reference or collection';
  if (types.isNativeError(value)) return 'an Error';
  if (types.isBoxedPrimitive(value)) return 'a boxed primitive';
  if (types.isGeneratorObject(value) || types.isMapIterator(value) || types.isSetIterator(value)) return 'an iterator';
  if (types.isProxy(value)) return 'a Proxy';
  return undefined;
}

function fail(what: string, state: EncodeState): CacheError {
  return unserializable(`${what} in ${state.argument < 0 ? 'the key' : `argument ${state.argument}`}`);
}

function unserializable(what: string): CacheError {
  return new CacheError('E_UNSERIALIZABLE_KEY', ErrorMessages.unserializableKey(what));
}
