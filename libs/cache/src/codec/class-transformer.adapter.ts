import { types } from 'node:util';
import { MAX_VALUE_DEPTH } from './value.codec.js';

/** The two class-transformer functions tiercache uses, when the app has class-transformer installed. */
interface ClassTransformer {
  instanceToPlain(value: unknown): unknown;
  plainToInstance(cls: new (...args: never[]) => unknown, plain: unknown): unknown;
}

let transformer: ClassTransformer | null | undefined;

/**
 * Loads class-transformer if the app has it (an optional peer); called once at boot. Without it, values are
 * stored as their own enumerable properties.
 */
export async function loadClassTransformer(): Promise<void> {
  if (transformer !== undefined) return;
  try {
    transformer = (await import('class-transformer')) as unknown as ClassTransformer;
  } catch {
    // Not installed: the app cannot be using @Exclude/@Expose either, so there is nothing to honour.
    transformer = null;
  }
}

function isClassInstance(value: unknown): value is object {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Buffer.isBuffer(value)) return false;
  const proto = Object.getPrototypeOf(value) as object | null;
  // Instances of the app's own classes only: built-ins (dates, collections, binary views) are the codec's business.
  return (
    proto !== null &&
    proto !== Object.prototype &&
    !(value instanceof Date) &&
    !(value instanceof Map) &&
    !(value instanceof Set) &&
    !ArrayBuffer.isView(value) &&
    !(value instanceof ArrayBuffer) &&
    // Built-ins the codec refuses (it says so): never turn them into `{}` behind its back.
    !types.isRegExp(value) &&
    !types.isNativeError(value) &&
    !types.isPromise(value) &&
    !types.isWeakMap(value) &&
    !types.isWeakSet(value) &&
    !types.isBoxedPrimitive(value)
  );
}

/**
 * What gets stored for a value: every class instance in it — at the top, or nested in arrays, plain objects, maps
 * and sets — goes through class-transformer's `instanceToPlain`, so `@Exclude()` fields are never written to the
 * cache and cannot reappear on a hit. Containers are copied only where something changed.
 * @example toStorable({ owner: userEntity }) // { owner: plain object without the @Exclude()d passwordHash }
 */
export function toStorable<T>(value: T): T {
  if (!transformer) return value;
  return storable(value, transformer, new Set(), 0) as T;
}

function storable(value: unknown, t: ClassTransformer, ancestors: Set<object>, depth: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const obj: object = value;
  if (isClassInstance(value)) return t.instanceToPlain(value);
  // Cycles and extreme nesting are the codec's to refuse: hand them over unchanged.
  if (ancestors.has(obj) || depth >= MAX_VALUE_DEPTH) return obj;
  const proto = Object.getPrototypeOf(obj) as object | null;
  const plainObject = proto === Object.prototype || proto === null;
  if (!Array.isArray(obj) && !(obj instanceof Map) && !(obj instanceof Set) && !plainObject) return obj;
  ancestors.add(obj);
  const inner = (v: unknown): unknown => storable(v, t, ancestors, depth + 1);
  let out: unknown = obj;
  if (Array.isArray(obj)) {
    const items = obj.map(inner);
    if (items.some((v, i) => v !== obj[i])) out = items;
  } else if (obj instanceof Map) {
    const before = [...obj];
    const after = before.map(([k, v]) => [inner(k), inner(v)] as [unknown, unknown]);
    if (after.some(([k, v], i) => k !== before[i]?.[0] || v !== before[i]?.[1])) out = new Map(after);
  } else if (obj instanceof Set) {
    const before = [...obj];
    const after = before.map(inner);
    if (after.some((v, i) => v !== before[i])) out = new Set(after);
  } else {
    const record = obj as Record<string, unknown>;
    const keys = Object.keys(record);
    const values = keys.map((k) => inner(record[k]));
    if (values.some((v, i) => v !== record[keys[i] as string])) {
      const copy = Object.create(proto) as Record<string, unknown>;
      // defineProperty: an own "__proto__" key stays data, never a prototype.
      keys.forEach((k, i) =>
        Object.defineProperty(copy, k, { value: values[i], enumerable: true, writable: true, configurable: true }),
      );
      out = copy;
    }
  }
  ancestors.delete(obj);
  return out;
}

/**
 * Restores class instances on a hit when the decorator names the class (`type`), so serializers treat hits and
 * misses alike. Requires class-transformer.
 * @example fromStored(UserEntity, plain) // a UserEntity
 */
export function fromStored<T>(cls: new (...args: never[]) => T, value: unknown): T | T[] {
  if (value === null || value === undefined || typeof value !== 'object' || !transformer) return value as T;
  if (value instanceof cls) return value;
  if (Array.isArray(value))
    return value.map((v) =>
      v instanceof cls || v === null || typeof v !== 'object' ? v : transformer!.plainToInstance(cls, v),
    ) as T[];
  return transformer.plainToInstance(cls, value) as T;
}
