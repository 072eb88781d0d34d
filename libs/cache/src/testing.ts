// nestjs-tiercache/testing: the cache for an app's own tests (in-memory, records of what the cache did).
export { CacheTestingModule } from './testing/cache-testing.module.js';
export { CacheRecords } from './testing/cache-records.js';
export type { CacheRecord } from './testing/cache-records.js';
