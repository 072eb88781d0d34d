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
    !(value instanceof ArrayBuffer)
  );
}

/**
 * What gets stored for a value: a class instance (or an array of them) goes through class-transformer's
 * `instanceToPlain`, so `@Exclude()` fields are never written to the cache and cannot reappear on a hit.
 * @example toStorable(userEntity) // plain object without the @Exclude()d passwordHash
 */
export function toStorable<T>(value: T): T {
  if (!transformer) return value;
  if (isClassInstance(value)) return transformer.instanceToPlain(value) as T;
  if (Array.isArray(value) && value.some(isClassInstance)) return value.map((v) => (isClassInstance(v) ? transformer!.instanceToPlain(v) : v)) as T;
  return value;
}

/**
 * Restores class instances on a hit when the decorator names the class (`type`), so serializers treat hits and
 * misses alike. Requires class-transformer.
 * @example fromStored(UserEntity, plain) // a UserEntity
 */
export function fromStored<T>(cls: new (...args: never[]) => T, value: unknown): T | T[] {
  if (value === null || value === undefined || typeof value !== 'object' || !transformer) return value as T;
  if (value instanceof cls) return value;
  if (Array.isArray(value)) return value.map((v) => (v instanceof cls || v === null || typeof v !== 'object' ? v : transformer!.plainToInstance(cls, v))) as T[];
  return transformer.plainToInstance(cls, value) as T;
}
