import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { CacheModuleOptions } from './compat-options.interface.js';

/**
 * The options half of the compat `CacheModule`: `register` / `registerAsync` (useFactory, useClass, useExisting,
 * inject, imports) exactly as @nestjs/cache-manager's builder, so its factory classes keep working.
 */
export const {
  ConfigurableModuleClass: CompatOptionsHost,
  MODULE_OPTIONS_TOKEN: CACHE_MODULE_OPTIONS,
  ASYNC_OPTIONS_TYPE: COMPAT_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<CacheModuleOptions>({ moduleName: 'Cache' })
  .setFactoryMethodName('createCacheOptions')
  .build();
