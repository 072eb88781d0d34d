import { SetMetadata } from '@nestjs/common';
import type { CustomDecorator, ExecutionContext } from '@nestjs/common';
import { CACHE_SCOPE_METADATA } from '../compat/compat.constants.js';

/** Identifies the caller of a request (e.g. the user id a guard put on it); undefined/null: unknown caller. */
export type CallerOf = (context: ExecutionContext) => unknown;

/**
 * Who a cached response may be served to, for requests that carry credentials (Authorization, Cookie): without it
 * `CacheInterceptor` does not cache such requests. `'public'`: the response is the same for every caller (cached by
 * the key alone). A function: one copy per caller, the key extended with what it returns (a request whose caller it
 * cannot name is not cached). On a handler or a whole controller (the handler's wins).
 * @example @CacheScope((ctx) => ctx.switchToHttp().getRequest<{ user?: { id: number } }>().user?.id) @Get('me') me() {}
 */
export const CacheScope = (scope: 'public' | CallerOf): CustomDecorator<string> =>
  SetMetadata(CACHE_SCOPE_METADATA, scope);
