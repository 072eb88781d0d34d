import { Inject, Injectable } from '@nestjs/common';
import { CACHE_ENGINE } from '../cache.constants.js';
import type { CacheEngine } from '../engine/cache-engine.js';
import { CacheError } from '../errors/cache.error.js';
import { ErrorMessages } from '../errors/error-messages.js';
import type { CacheOperation, CacheOutcome, CacheTier } from '../observability/cache-recorder.js';

/** One cache event, as a test sees it. */
export interface CacheRecord {
  namespace: string;
  tier: CacheTier;
  operation: CacheOperation;
  outcome: CacheOutcome;
}

/**
 * What the cache did, for assertions in an app's tests (provided by CacheTestingModule): every hit, miss, load,
 * write and invalidation, by namespace. Reading it before the app is initialized throws: decorated methods cache only
 * after `app.init()`, and a test that forgot it would otherwise see "no caching" with no hint why.
 * @example await users.get(1); await users.get(1); expect(records.count('user', 'hit')).toBe(1);
 */
@Injectable()
export class CacheRecords {
  readonly #engine: CacheEngine;
  readonly #records: CacheRecord[] = [];

  constructor(@Inject(CACHE_ENGINE) engine: CacheEngine) {
    this.#engine = engine;
    engine.telemetry.addRecorder({
      record: (namespace, tier, operation, outcome) => void this.#records.push({ namespace, tier, operation, outcome }),
    });
  }

  /** Every event since the start (or the last {@link clear}). */
  all(): readonly CacheRecord[] {
    this.#checkInitialized();
    return [...this.#records];
  }

  /** How many events of this namespace had this outcome (and operation, when given). */
  count(namespace: string, outcome: CacheOutcome, operation?: CacheOperation): number {
    this.#checkInitialized();
    return this.#records.filter(
      (r) =>
        r.namespace === namespace && r.outcome === outcome && (operation === undefined || r.operation === operation),
    ).length;
  }

  /** Hits of a namespace (any tier). */
  hits(namespace: string): number {
    return this.count(namespace, 'hit', 'get');
  }

  /** Misses of a namespace. */
  misses(namespace: string): number {
    return this.count(namespace, 'miss', 'get');
  }

  /** Entries written to a namespace. */
  writes(namespace: string): number {
    return this.count(namespace, 'ok', 'set');
  }

  /** Invalidations of a namespace (deletes, clears). */
  invalidations(namespace: string): number {
    return this.count(namespace, 'ok', 'delete') + this.count(namespace, 'ok', 'clear');
  }

  /** Forgets what was recorded. */
  clear(): void {
    this.#records.length = 0;
  }

  #checkInitialized(): void {
    if (!this.#engine.initialized) throw new CacheError('E_MISUSE', ErrorMessages.testingNotInitialized());
  }
}
