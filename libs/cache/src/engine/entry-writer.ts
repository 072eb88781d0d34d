import type { LoadFence } from '../backends/cache-backend.interface.js';
import type { CacheStore } from '../backends/cache-store.js';
import { toStorable } from '../codec/class-transformer.adapter.js';
import { encodeEntry } from '../codec/entry.codec.js';
import { ErrorMessages } from '../errors/error-messages.js';
import type { Invalidator } from '../invalidation/invalidator.js';
import { checkTags } from '../keys/key-space.js';
import type { CacheTelemetry } from '../observability/cache-telemetry.js';
import type { LoadPolicy } from '../options/load-policy.js';
import { Budget } from '../resilience/budget.js';
import type { ThrottledLogger } from '../resilience/throttled-logger.js';
import type { BackendGuard } from './backend-guard.js';

/**
 * What a load's write is guarded by: the token of the read that missed (the key must still be in that state) and
 * the load fence read before the loader ran (undefined: the backend shares nothing to fence against).
 */
export interface LoadGuard {
  token: string | null;
  fence: LoadFence | undefined;
}

/** Tags of a write: a list, or a function of the value. */
export type TagsOption<T> = readonly string[] | ((value: T) => readonly string[]) | undefined;

/**
 * Writes entries: the value is encoded once (the only place a value becomes bytes), checked against the
 * namespace's `maxValueBytes`, and written with its tags — guarded (`token`: only if the key is still in the state
 * the read saw) for loads, unconditionally for write-throughs (`put`), which go through the invalidation sequence.
 * @example await writer.put('user', key, user, policy, undefined);
 */
export class EntryWriter {
  constructor(
    private readonly store: CacheStore,
    private readonly guard: BackendGuard,
    private readonly invalidator: Invalidator,
    private readonly telemetry: CacheTelemetry,
    private readonly logger: ThrottledLogger,
    private readonly commandTimeoutMs: number,
  ) {}

  /** The load fence of a key, read before its loader runs ({@link readFence}). */
  fence(namespace: string, k: string, budget: Budget): Promise<LoadFence | null | undefined> {
    return readFence(this.store, this.guard, namespace, k, budget);
  }

  /** Write-through: replaces the entry whatever it holds; if the value cannot be cached the old one is removed. */
  async put<T>(namespace: string, k: string, value: T, policy: LoadPolicy, tags: TagsOption<T>): Promise<boolean> {
    if (value === undefined) return false;
    const budget = new Budget(this.commandTimeoutMs);
    return this.invalidator.replace(namespace, k, (onFail) =>
      this.write(namespace, k, value, policy, tags, undefined, budget, onFail),
    );
  }

  /**
   * Encodes and writes one entry. `load` undefined: unconditional (then `onFail` queues an invalidation of the key
   * when the write fails, and a value that cannot be cached removes the old one); otherwise a load's guarded write.
   */
  async write<T>(
    namespace: string,
    k: string,
    value: T,
    policy: LoadPolicy,
    tagsOption: TagsOption<T>,
    load: LoadGuard | undefined,
    budget: Budget,
    onFail?: () => void,
  ): Promise<boolean> {
    const mustLand = load === undefined;
    const tier = this.guard.tier;
    if (!mustLand && !this.guard.allow(k)) {
      // Nothing would be sent: skip the encoding too.
      this.telemetry.count(namespace, tier, 'set', 'open');
      return false;
    }
    const ttlMs = entryTtl(policy, value);
    const now = Date.now();
    let encoded: Buffer;
    try {
      encoded = encodeEntry({ value: toStorable(value), createdAt: now, expiresAt: now + ttlMs });
    } catch (err) {
      this.logger.warn(`encode:${namespace}`, ErrorMessages.unserializableValue((err as Error).message));
      return this.refuse(namespace, k, mustLand);
    }
    if (encoded.length > policy.maxValueBytes) {
      this.logger.warn(
        `size:${namespace}`,
        ErrorMessages.valueTooLarge(namespace, encoded.length, policy.maxValueBytes),
      );
      return this.refuse(namespace, k, mustLand);
    }
    const tags = typeof tagsOption === 'function' ? tagsOption(value) : tagsOption;
    const tagKeys = tags?.length ? checkTags(tags) : undefined;
    const options = {
      ...(tagKeys ? { tags: tagKeys } : {}),
      ...(load !== undefined ? { ifToken: load.token } : {}),
      ...(load?.fence !== undefined ? { fence: load.fence } : {}),
    };
    const backend = this.store.backend;
    const written = await this.guard.run(
      namespace,
      'set',
      () => budget.run(backend.kind, 'set', () => backend.write(k, encoded, ttlMs + policy.graceMs, options)),
      false,
      mustLand ? onFail : undefined,
      k,
    );
    this.telemetry.count(namespace, tier, 'set', written ? 'ok' : 'skipped');
    return written;
  }

  /** A value that cannot be cached: counted; a write-through must not leave the previous value behind. */
  private async refuse(namespace: string, k: string, mustLand: boolean): Promise<false> {
    this.telemetry.count(namespace, this.guard.tier, 'set', 'refused');
    if (mustLand) await this.invalidator.keys(namespace, [k]);
    return false;
  }
}

/** The TTL of an entry: the policy's (a function of the value, or fixed), at least 1 ms, with jitter. */
export function entryTtl(policy: LoadPolicy, value: unknown): number {
  const ms = typeof policy.ttl === 'function' ? policy.ttl(value) : policy.ttl;
  const safe = Math.max(1, ms);
  return policy.jitter > 0 ? Math.round(safe * (1 + Math.random() * policy.jitter)) : safe;
}

/**
 * Reads the load fence of a key before its loader runs (the backend's `fence`): undefined when the backend needs
 * none, null when it cannot be read (Redis down, circuit open: the load's value is then not cached).
 */
export async function readFence(
  store: CacheStore,
  guard: BackendGuard,
  namespace: string,
  k: string,
  budget: Budget,
): Promise<LoadFence | null | undefined> {
  const backend = store.backend;
  if (backend.fence === undefined) return undefined;
  // Circuit open, or the call's cache time already spent: nothing is sent, and the value will not be cached.
  if (!guard.allow(k) || budget.remainingMs <= 0) return null;
  const read = backend.fence.bind(backend);
  return guard.run(namespace, 'get', () => budget.run(backend.kind, 'get', () => read(k)), null, undefined, k);
}
