import { SetMetadata } from '@nestjs/common';
import type { CustomDecorator, ExecutionContext } from '@nestjs/common';
import { CACHE_TTL_METADATA } from './compat.constants.js';

/** A TTL in milliseconds, or a function of the execution context returning one. */
export type CacheTtlFactory = (context: ExecutionContext) => number | Promise<number>;

/**
 * Sets the TTL (milliseconds) of the responses `CacheInterceptor` caches, on a handler or a whole controller (the
 * handler's wins), as @nestjs/cache-manager's.
 * @example @CacheTTL(5_000) @Get() list() {}
 */
export const CacheTTL = (ttl: number | CacheTtlFactory): CustomDecorator<string> =>
  SetMetadata(CACHE_TTL_METADATA, ttl);
