/**
 * Stores a decorator's options on the method function itself (as @nestjs/schedule does), so the metadata travels
 * with the function and the explorer can find it. Several @CacheInvalidate on one method accumulate.
 */
export function recordMetadata(
  metadataKey: string,
  options: object,
  _target: object,
  _propertyKey: string | symbol,
  descriptor: PropertyDescriptor,
): void {
  const fn: unknown = descriptor.value;
  if (typeof fn !== 'function') return;
  const existing = (Reflect.getMetadata(metadataKey, fn) as object[] | undefined) ?? [];
  Reflect.defineMetadata(metadataKey, [...existing, options], fn);
}
