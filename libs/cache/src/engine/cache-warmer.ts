import type { ThrottledLogger } from '../resilience/throttled-logger.js';
import { CacheError } from '../errors/cache.error.js';
import { ErrorMessages, LogMessages } from '../errors/error-messages.js';
import type { KeySpace } from '../keys/key-space.js';
import type { CacheTier } from '../observability/cache-recorder.js';
import type { CacheTelemetry } from '../observability/cache-telemetry.js';
import type { WarmEntries, WarmOptions, WarmReport } from '../warming/warm.types.js';
import type { LoadLease } from './load-lease.js';

/** A once-per-deploy warming lease is kept (not released) so later instances of the deploy skip. */
const WARM_LEASE_TTL_MS = 24 * 3_600_000;
/** Writes in flight at once while warming. */
const WARM_BATCH = 32;

/** Writes one entry of a warm-up; false when it was not cached. */
export type WarmWrite = (key: unknown, value: unknown) => Promise<boolean>;

/**
 * Cache warming: writes entries from a source, at most once per deploy across instances (`once`), and keeps the
 * registered warmers (`@WarmUp` methods) for `warmAll`.
 * @example await warmer.warm('models', write, source, { once: 'models' });
 */
export class CacheWarmer {
  private readonly warmers = new Map<string, () => Promise<WarmReport>>();

  constructor(
    private readonly space: KeySpace,
    private readonly leases: LoadLease,
    private readonly telemetry: CacheTelemetry,
    private readonly logger: ThrottledLogger,
    private readonly instanceId: string,
    private readonly deployId: string,
    private readonly tier: CacheTier,
  ) {}

  async warm(
    namespace: string,
    write: WarmWrite,
    source: WarmEntries | (() => Promise<WarmEntries> | WarmEntries),
    options: WarmOptions,
  ): Promise<WarmReport> {
    const started = performance.now();
    const report = (written: number, failed: number, skipped: boolean): WarmReport => ({
      namespace,
      written,
      failed,
      skipped,
      ms: Math.round(performance.now() - started),
    });
    let lease: { key: string; holder: string } | undefined;
    if (options.once !== undefined) {
      const key = this.space.warm(String(options.once), this.deployId);
      const got = await this.leases.take(namespace, key, this.instanceId, WARM_LEASE_TTL_MS);
      if (got === false) {
        this.logger.log(`warm:${namespace}`, LogMessages.warmSkipped(namespace, String(options.once), this.deployId));
        this.telemetry.count(namespace, this.tier, 'warm', 'skipped');
        return report(0, 0, true);
      }
      if (got) lease = { key, holder: this.instanceId };
    }
    let entries: WarmEntries;
    try {
      entries = typeof source === 'function' ? await source() : source;
    } catch (err) {
      // Let another instance (or a later call) try again.
      if (lease) await this.leases.release(namespace, lease);
      throw err;
    }
    if (
      entries === null ||
      entries === undefined ||
      typeof (entries as Partial<Iterable<unknown>>)[Symbol.iterator] !== 'function'
    ) {
      if (lease) await this.leases.release(namespace, lease);
      throw new CacheError(
        'E_MISUSE',
        ErrorMessages.misuse(
          `warm("${namespace}")`,
          'the source is not [key, value] pairs or a Map',
          'return an array of [key, value] pairs, or a Map',
        ),
      );
    }
    let written = 0;
    let failed = 0;
    const batch: Promise<boolean>[] = [];
    const flush = async (): Promise<void> => {
      for (const ok of await Promise.all(batch.splice(0))) {
        if (ok) written++;
        else failed++;
      }
    };
    for (const pair of entries as Iterable<unknown>) {
      // A malformed pair is an entry that could not be cached, not a crash.
      batch.push(Array.isArray(pair) ? write(pair[0], pair[1]).catch(() => false) : Promise.resolve(false));
      if (batch.length >= WARM_BATCH) await flush();
    }
    await flush();
    const result = report(written, failed, false);
    this.telemetry.count(namespace, this.tier, 'warm', 'ok', result.ms);
    this.logger.log(`warm:${namespace}`, LogMessages.warmed(namespace, written, result.ms, failed));
    return result;
  }

  /** Registers a warmer (the explorer does this for `@WarmUp` methods). */
  register(name: string, run: () => Promise<WarmReport>): void {
    this.warmers.set(name, run);
  }

  /** Runs every registered warmer now; failures are reported, not thrown. */
  async warmAll(): Promise<{ name: string; report?: WarmReport; error?: string }[]> {
    return Promise.all(
      [...this.warmers].map(async ([name, run]) => {
        try {
          return { name, report: await run() };
        } catch (err) {
          this.logger.warn(`warm-fail:${name}`, LogMessages.warmerFailed(name, err));
          return { name, error: (err as Error)?.message ?? String(err) };
        }
      }),
    );
  }
}
