import { Module } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { CacheModule } from '../cache.module.js';
import type { CacheModuleOptions } from '../options/cache-options.interface.js';
import { CacheRecords } from './cache-records.js';

/**
 * The cache for an app's tests: the real CacheModule (global) on the in-memory backend — no Redis, whatever the
 * options say — plus {@link CacheRecords} to assert on hits, misses, writes and invalidations. TTLs follow `Date.now()`,
 * so Jest's fake timers (`jest.useFakeTimers()`, `jest.setSystemTime()`, `jest.advanceTimersByTime()`) drive expiry
 * and grace. Decorated methods cache once the app is initialized (`await app.init()`).
 * @example
 * const moduleRef = await Test.createTestingModule({ imports: [CacheTestingModule.forRoot()], providers: [UsersService] }).compile();
 * const app = await moduleRef.createNestApplication().init();
 */
@Module({})
export class CacheTestingModule {
  static forRoot(options: Omit<CacheModuleOptions, 'redis'> = {}): DynamicModule {
    const { redis: _ignored, ...rest } = options as CacheModuleOptions;
    return {
      module: CacheTestingModule,
      global: true,
      imports: [CacheModule.forRoot({ prefix: 'test', ...rest, isGlobal: true })],
      providers: [CacheRecords],
      exports: [CacheRecords],
    };
  }
}
