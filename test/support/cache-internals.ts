// Test-only access to a CacheModule's internals (the engine is not part of the public API).
import type { INestApplicationContext } from '@nestjs/common';
import { CACHE_ENGINE } from '../../libs/cache/src/cache.constants.js';
import type { CacheEngine } from '../../libs/cache/src/engine/cache-engine.js';

export type { CacheEngine };

/** The engine of the (only) CacheModule of an app: key space, store, flights, replayer, telemetry, writer… */
export function engineOf(app: INestApplicationContext): CacheEngine {
  return app.get<CacheEngine>(CACHE_ENGINE, { strict: false });
}

/** The full entry key (`<prefix>:<namespace>:<key>`) the app's cache uses for a key value. */
export function entryKey(app: INestApplicationContext, namespace: string, key: unknown): string {
  return engineOf(app).space.entry(namespace, key);
}
