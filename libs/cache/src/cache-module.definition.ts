import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { CacheModuleOptions } from './options/cache-options.interface.js';

/** Extras of forRoot / forRootAsync beside the options. */
export interface CacheModuleExtras {
  /** Register CacheService globally. @default false */
  isGlobal: boolean;
}

/**
 * A class that `forRootAsync({ useClass })` / `useExisting` can use to produce the options.
 * @example @Injectable() class CacheConfig implements CacheOptionsFactory { createCacheOptions() { return { prefix: 'app' }; } }
 */
export interface CacheOptionsFactory {
  createCacheOptions(): CacheModuleOptions | Promise<CacheModuleOptions>;
}

export const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<CacheModuleOptions>({ moduleName: 'TierCache' })
    .setClassMethodName('forRoot')
    .setFactoryMethodName('createCacheOptions')
    .setExtras<CacheModuleExtras>({ isGlobal: false }, (definition, extras) => ({
      ...definition,
      global: extras.isGlobal,
    }))
    .build();
