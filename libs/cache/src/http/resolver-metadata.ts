/**
 * Metadata keys @nestjs/graphql writes on resolver handler methods (`@Query`, `@Mutation`, `@Subscription`,
 * `@ResolveField`, `@ResolveReference`), read by their well-known names so the package does not import GraphQL.
 */
export const GRAPHQL_HANDLER_METADATA = [
  'graphql:resolver_type',
  'graphql:resolve_property',
  'graphql:resolve_reference',
] as const;

/**
 * True for a GraphQL resolver handler method (whatever the class is registered as).
 * @example isResolverHandler(UsersResolver.prototype.user) // true under @Query()
 */
export function isResolverHandler(method: unknown): boolean {
  if (typeof method !== 'function') return false;
  return GRAPHQL_HANDLER_METADATA.some((key) => Reflect.hasMetadata(key, method));
}
