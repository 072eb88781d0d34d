import { Inject } from '@nestjs/common';
import { DEFAULT_CACHE_NAME } from './cache.constants.js';
import { namedCacheToken } from './cache-module.definition.js';
import { CacheService } from './cache.service.js';
import { CacheError } from './errors/cache.error.js';
import { ErrorMessages } from './errors/error-messages.js';
import { NAME_PATTERN } from './keys/key-space.js';

/**
 * The injection token of a cache's `CacheService`: the `CacheService` class itself for the default (unnamed) cache,
 * a string token for a named one (`forRoot({ name })`). For `app.get(...)` and `moduleRef.get(...)`.
 * @example const catalogue = app.get<CacheService>(getCacheToken('catalogue'));
 */
export function getCacheToken(name: string = DEFAULT_CACHE_NAME): string | typeof CacheService {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name) || name.startsWith('__'))
    throw new CacheError('E_MISUSE', ErrorMessages.badCacheName(name));
  return name === DEFAULT_CACHE_NAME ? CacheService : namedCacheToken(name);
}

/**
 * Injects the `CacheService` of the cache registered with `CacheModule.forRoot({ name })`; without a name, the
 * default cache's (the same as injecting `CacheService`).
 * @example constructor(@InjectCache('catalogue') private readonly catalogue: CacheService) {}
 */
export function InjectCache(name: string = DEFAULT_CACHE_NAME): PropertyDecorator & ParameterDecorator {
  return Inject(getCacheToken(name));
}
