import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { CacheMetricsOptions } from './cache-metrics.options.js';

/**
 * The ConfigurableModuleBuilder output behind `CacheMetricsModule.forRoot` / `forRootAsync`.
 * @example export class CacheMetricsModule extends CacheMetricsModuleClass {}
 */
export const { ConfigurableModuleClass: CacheMetricsModuleClass, MODULE_OPTIONS_TOKEN: CACHE_METRICS_MODULE_OPTIONS } =
  new ConfigurableModuleBuilder<CacheMetricsOptions>({ moduleName: 'TierCacheMetrics' })
    .setClassMethodName('forRoot')
    .build();
