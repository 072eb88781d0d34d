import type { DiscoveryService } from '@nestjs/core';
import { CACHE_ENGINE } from '../cache.constants.js';
import type { CacheEngine } from '../engine/cache-engine.js';

/**
 * Every cache engine the app registered (one per `CacheModule.forRoot`), sorted by name. Complete once every
 * provider is instantiated, i.e. from `onModuleInit` on.
 * @example const names = registeredCaches(discovery).map((e) => e.options.name); // ['catalogue', 'default']
 */
export function registeredCaches(discovery: DiscoveryService): CacheEngine[] {
  const engines = new Set<CacheEngine>();
  for (const wrapper of discovery.getProviders()) {
    if (wrapper.token !== CACHE_ENGINE) continue;
    const engine = wrapper.instance as CacheEngine | undefined;
    if (typeof engine?.options?.name === 'string') engines.add(engine);
  }
  return [...engines].sort((a, b) => (a.options.name < b.options.name ? -1 : a.options.name > b.options.name ? 1 : 0));
}
