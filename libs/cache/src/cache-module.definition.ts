import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { Provider } from '@nestjs/common';
import { CACHE_ENGINE, CACHE_NAME, CACHE_OPTIONS, DEFAULT_CACHE_NAME } from './cache.constants.js';
import { CacheService } from './cache.service.js';
import { NAME_PATTERN } from './keys/key-space.js';
import type { CacheModuleOptions } from './options/cache-options.interface.js';

/** Extras of forRoot / forRootAsync beside the options. */
export interface CacheModuleExtras {
  /** Register the cache's providers globally. @default false */
  isGlobal: boolean;
  /**
   * The cache's name, for an app with several caches: decorators pick it with `{ cache: name }`, services inject it
   * with `@InjectCache(name)`; metrics and health label it `cache="<name>"`. Its keys live under `prefix`, which
   * defaults to the name. @default 'default' (the unnamed cache, injected as `CacheService`)
   */
  name: string | undefined;
}

/**
 * A class that `forRootAsync({ useClass })` / `useExisting` can use to produce the options.
 * @example @Injectable() class CacheConfig implements CacheOptionsFactory { createCacheOptions() { return { prefix: 'app' }; } }
 */
export interface CacheOptionsFactory {
  createCacheOptions(): CacheModuleOptions | Promise<CacheModuleOptions>;
}

/** The string token of a named cache's CacheService (see getCacheToken, which validates the name). */
export function namedCacheToken(name: string): string {
  return `tiercache:cache:${name}`;
}

export const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<CacheModuleOptions>({ moduleName: 'TierCache' })
    .setClassMethodName('forRoot')
    .setFactoryMethodName('createCacheOptions')
    .setExtras<CacheModuleExtras>({ isGlobal: false, name: undefined }, (definition, extras) => {
      // The name is checked at boot by the CACHE_OPTIONS factory (an error naming "name"); an invalid one gets no
      // token here, so nothing can inject it.
      const name: unknown = extras.name ?? DEFAULT_CACHE_NAME;
      const named = name !== DEFAULT_CACHE_NAME;
      const valid = typeof name === 'string' && NAME_PATTERN.test(name) && !name.startsWith('__');
      const providers: Provider[] = [...(definition.providers ?? []), { provide: CACHE_NAME, useValue: name }];
      // A named cache exports only its own token: two global caches never compete for the CacheService class.
      let exports: NonNullable<typeof definition.exports> = [CacheService, CACHE_OPTIONS, CACHE_ENGINE];
      if (named && valid) {
        providers.push({ provide: namedCacheToken(name), useExisting: CacheService });
        exports = [namedCacheToken(name)];
      } else if (named) {
        exports = [];
      }
      return {
        ...definition,
        global: extras.isGlobal,
        providers,
        exports: [...(definition.exports ?? []), ...exports],
      };
    })
    .build();
