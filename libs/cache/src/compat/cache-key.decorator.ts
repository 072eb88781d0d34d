import { SetMetadata } from '@nestjs/common';
import type { CustomDecorator, ExecutionContext } from '@nestjs/common';
import { CACHE_KEY_METADATA } from './compat.constants.js';

/** A fixed cache key, or a function of the execution context. */
export type CacheKeyFactory = (context: ExecutionContext) => string | undefined;

/**
 * Sets the key `CacheInterceptor` caches a handler's result under (instead of the URL), as @nestjs/cache-manager's.
 * A fixed key is shared by every caller: with credentials on the request it is still refused unless `@CacheScope`.
 * @example @CacheKey('events') @Get('events') list() {}
 */
export const CacheKey = (key: string | CacheKeyFactory): CustomDecorator<string> =>
  SetMetadata(CACHE_KEY_METADATA, key);
