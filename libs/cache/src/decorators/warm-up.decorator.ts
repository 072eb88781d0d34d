import { CACHE_WARM_METADATA } from '../cache.constants.js';
import type { Duration } from '../options/duration.js';
import type { WarmEntries } from '../warming/warm.types.js';
import { recordMetadata } from './record-metadata.js';

/**
 * Options of `@WarmUp`.
 * @example @WarmUp({ namespace: 'models', once: true, timeout: '5s' })
 */
export interface WarmUpOptions {
  /** The namespace the returned entries are written to. */
  namespace: string;
  /** The cache (`CacheModule.forRoot({ name })`) written to. @default 'default' (the unnamed cache) */
  cache?: string;
  /** TTL of the warmed entries. @default the namespace's */
  ttl?: Duration;
  /** Run once per deploy across all instances (a Redis lease keyed by the module's `deployId`). @default false */
  once?: boolean;
  /** How long boot may wait for this warmer; past it boot goes on and warming finishes in the background. @default '5s' */
  timeout?: Duration;
}

/**
 * Marks a provider method that returns entries (`[key, value]` pairs or a Map) to write into a namespace after
 * bootstrap; call `CacheService.warmAll()` to run the warmers again on demand. Records metadata only.
 * @example
 * @WarmUp({ namespace: 'models', once: true })
 * async models(): Promise<Array<[string, Model]>> { return (await this.db.models()).map((m) => [m.id, m]); }
 */
export function WarmUp(options: WarmUpOptions) {
  return <M extends (...args: never[]) => Promise<WarmEntries> | WarmEntries>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<M>,
  ): void => recordMetadata(CACHE_WARM_METADATA, options, target, propertyKey, descriptor);
}
