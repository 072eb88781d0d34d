import type { CacheStore } from '../backends/cache-store.js';
import type { Invalidator } from '../invalidation/invalidator.js';
import type { CacheTelemetry } from '../observability/cache-telemetry.js';
import type { SingleFlight } from '../resilience/single-flight.js';
import { Budget } from '../resilience/budget.js';
import type { BackendGuard } from './backend-guard.js';
import type { EntryReader } from './entry-reader.js';
import { readFence } from './entry-writer.js';

/** A list write, resolved: keep the last `maxLength` items, for `ttlMs`. */
export interface ListShape {
  maxLength: number;
  ttlMs: number;
}

/**
 * Capped lists (message histories): read, load-once, replace and atomic append. Lists are their own kind of entry:
 * reading one as a value (or a value as a list) throws `E_KIND_MISMATCH` and leaves it intact.
 * @example await lists.append('messages', key, [message], { maxLength: 200, ttlMs: 3_600_000 });
 */
export class ListEntries {
  constructor(
    private readonly store: CacheStore,
    private readonly flights: SingleFlight,
    private readonly reader: EntryReader,
    private readonly guard: BackendGuard,
    private readonly invalidator: Invalidator,
    private readonly telemetry: CacheTelemetry,
    private readonly commandTimeoutMs: number,
  ) {}

  async get<T>(namespace: string, k: string): Promise<T[] | undefined> {
    const read = await this.reader.readList<T>(namespace, k, new Budget(this.commandTimeoutMs));
    return read.hit ? read.items : undefined;
  }

  getOrLoad<T>(namespace: string, k: string, loader: () => Promise<T[]> | T[], shape: ListShape): Promise<T[]> {
    const { flight, joined } = this.flights.run<T[]>(k, async (self) => {
      // One cache-I/O budget for the read and the write: a read that timed out leaves the write nothing to wait on.
      const budget = new Budget(this.commandTimeoutMs);
      const read = await this.reader.readList<T>(namespace, k, budget);
      if (read.hit) return read.items;
      // Read before the loader: a clear or tag invalidation from now on keeps what it loads out of the cache.
      const fence = await readFence(this.store, this.guard, namespace, k, budget);
      const items = (await loader()).slice(-shape.maxLength);
      if (!self.invalidated && fence !== null) {
        const backend = this.store.backend;
        await this.guard.run(
          namespace,
          'set',
          () =>
            budget.run(backend.kind, 'set', () =>
              backend.writeList(k, items, shape.maxLength, shape.ttlMs, {
                ifToken: read.token,
                ...(fence !== undefined ? { fence } : {}),
              }),
            ),
          false,
          undefined,
          k,
        );
      }
      return items;
    });
    if (joined) this.telemetry.count(namespace, 'source', 'load', 'wait');
    return flight.promise;
  }

  set(namespace: string, k: string, items: readonly unknown[], shape: ListShape): Promise<boolean> {
    const backend = this.store.backend;
    return this.invalidator.replace(namespace, k, (onFail) =>
      this.guard.run(
        namespace,
        'set',
        () => backend.writeList(k, items, shape.maxLength, shape.ttlMs),
        false,
        onFail,
        k,
      ),
    );
  }

  /** Atomic append to a cached list (nothing is written if the list is not cached: the next read loads it whole). */
  append(namespace: string, k: string, items: readonly unknown[], shape: ListShape): Promise<boolean> {
    const backend = this.store.backend;
    // A failed append leaves the cached list behind the source: it is dropped when Redis is back.
    return this.invalidator.replace(namespace, k, (onFail) =>
      this.guard.run(
        namespace,
        'append',
        () => backend.append(k, items, shape.maxLength, shape.ttlMs),
        false,
        onFail,
        k,
      ),
    );
  }
}
