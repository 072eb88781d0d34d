import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CacheStore } from '../backends/cache-store.js';
import { isLeaseBackend } from '../backends/lease-backend.interface.js';
import type { KeySpace } from '../keys/key-space.js';
import type { CacheTelemetry } from '../observability/cache-telemetry.js';
import type { ResolvedLease } from '../options/resolved-options.js';
import { Budget } from '../resilience/budget.js';
import type { BackendGuard } from './backend-guard.js';
import type { EntryReader } from './entry-reader.js';

/** A lease this instance holds. */
export interface HeldLease {
  key: string;
  holder: string;
}

/**
 * The distributed stampede lease (`lease: true`): one instance takes `<prefix>:__lease:…` (SET NX PX) and loads;
 * the others poll for its value, with a bound, and take over if the lease expires (its holder died).
 * @example const got = await leases.await('user', key, { ttlMs: 5000, waitMs: 5000 });
 */
export class LoadLease {
  constructor(
    private readonly space: KeySpace,
    private readonly store: CacheStore,
    private readonly guard: BackendGuard,
    private readonly reader: EntryReader,
    private readonly telemetry: CacheTelemetry,
    private readonly commandTimeoutMs: number,
  ) {}

  /** Takes the lease (`lease` set: this instance loads), or waits for the holder's value (`value` set); {} on trouble. */
  async await<T>(
    namespace: string,
    k: string,
    lease: ResolvedLease,
  ): Promise<{ value?: { value: T }; lease?: HeldLease }> {
    const backend = this.store.backend;
    if (!isLeaseBackend(backend)) return {};
    const leaseKey = this.space.lease(k);
    const holder = randomUUID();
    const deadline = Date.now() + lease.waitMs;
    let delay = 10;
    while (true) {
      const got = await this.guard.run(
        namespace,
        'lease',
        () => backend.acquireLease(leaseKey, holder, lease.ttlMs),
        undefined,
        undefined,
        leaseKey,
      );
      if (got === undefined) return {};
      if (got) {
        // The holder may have written and released between our read and our SET NX: read once more before loading.
        const again = await this.reader.read<T>(namespace, k, new Budget(this.commandTimeoutMs));
        if (again.hit && again.entry.expiresAt > Date.now()) {
          void this.release(namespace, { key: leaseKey, holder });
          return { value: { value: again.entry.value } };
        }
        return { lease: { key: leaseKey, holder } };
      }
      this.telemetry.count(namespace, 'source', 'load', 'wait');
      while (Date.now() < deadline) {
        await sleep(delay);
        delay = Math.min(delay * 2, 100);
        const read = await this.reader.read<T>(namespace, k, new Budget(this.commandTimeoutMs));
        if (read.hit && read.entry.expiresAt > Date.now()) return { value: { value: read.entry.value } };
        if (read.failed) return {};
        const held = await this.guard.run(
          namespace,
          'lease',
          () => backend.leaseHeld(leaseKey),
          true,
          undefined,
          leaseKey,
        );
        if (!held) break;
      }
      if (Date.now() >= deadline) return {};
    }
  }

  /** Takes a lease held for long (warming once per deploy): true taken, false held by another, undefined on trouble. */
  async take(namespace: string, leaseKey: string, holder: string, ttlMs: number): Promise<boolean | undefined> {
    const backend = this.store.backend;
    if (!isLeaseBackend(backend)) return undefined;
    return this.guard.run(
      namespace,
      'lease',
      () => backend.acquireLease(leaseKey, holder, ttlMs),
      undefined,
      undefined,
      leaseKey,
    );
  }

  async release(namespace: string, lease: HeldLease): Promise<void> {
    const backend = this.store.backend;
    if (isLeaseBackend(backend))
      await this.guard.run(
        namespace,
        'lease',
        () => backend.releaseLease(lease.key, lease.holder),
        undefined,
        undefined,
        lease.key,
      );
  }
}
