import { Logger } from '@nestjs/common';
import type { EventEmitter2 } from '@nestjs/event-emitter';
import { CacheStore } from '../backends/cache-store.js';
import { LogMessages } from '../errors/error-messages.js';
import { CacheEvents } from '../events/cache.events.js';
import type { CacheBackendEvent } from '../events/cache.events.js';
import { Invalidator } from '../invalidation/invalidator.js';
import { Replayer } from '../invalidation/replayer.js';
import { KeySpace } from '../keys/key-space.js';
import { CacheTelemetry } from '../observability/cache-telemetry.js';
import { Policies } from '../options/load-policy.js';
import type { ResolvedCacheOptions } from '../options/resolved-options.js';
import { SingleFlight } from '../resilience/single-flight.js';
import { ThrottledLogger } from '../resilience/throttled-logger.js';
import { BackendGuard } from './backend-guard.js';
import { CacheWarmer } from './cache-warmer.js';
import { EntryReader } from './entry-reader.js';
import { EntryWriter } from './entry-writer.js';
import { ListEntries } from './list-entries.js';
import { LoadLease } from './load-lease.js';
import { ReadThrough } from './read-through.js';

/**
 * The runtime of one CacheModule, internal (never exported): the key space, the backend chain and every part of
 * the engine, wired once. `CacheService` (the public facade) and the decorator wrappers call into it; nothing in
 * it calls back up.
 */
export class CacheEngine {
  readonly space: KeySpace;
  readonly store: CacheStore;
  readonly telemetry: CacheTelemetry;
  readonly policies: Policies;
  readonly flights = new SingleFlight();
  readonly guard: BackendGuard;
  readonly replayer: Replayer;
  readonly invalidator: Invalidator;
  readonly reader: EntryReader;
  readonly writer: EntryWriter;
  readonly lists: ListEntries;
  readonly leases: LoadLease;
  readonly readThrough: ReadThrough;
  readonly warmer: CacheWarmer;
  readonly logger: ThrottledLogger;
  /** Set once the explorer has wrapped the decorated methods (app initialized). */
  initialized = false;

  constructor(
    readonly options: ResolvedCacheOptions,
    events: EventEmitter2 | undefined,
  ) {
    const t = options.commandTimeoutMs;
    this.space = new KeySpace(options.prefix);
    this.store = new CacheStore(options, this.space);
    const store = this.store;
    this.logger = new ThrottledLogger(new Logger('CacheService'), options.logThrottleMs);
    this.telemetry = new CacheTelemetry(options.namespaces.keys());
    this.policies = new Policies(options.namespaces, options.defaultNamespace, options.cacheNull);
    const tier = this.store.backend.kind === 'memory' ? 'memory' : 'redis';
    this.guard = new BackendGuard(this.store.breaker, tier, this.telemetry, this.logger);
    this.replayer = new Replayer(
      {
        backend: this.store.backend,
        hasRedis: this.store.connection !== undefined,
        get redisConnected() {
          return store.redisConnected;
        },
        publish: (change) => store.publish(change),
      },
      this.space.root,
      options.maxPendingInvalidations,
      options.breaker.probeIntervalMs,
      this.telemetry,
      this.logger,
    );
    this.invalidator = new Invalidator(this.space, this.flights, store, this.guard, this.replayer, this.logger, events);
    this.reader = new EntryReader(
      store,
      this.guard,
      this.replayer,
      this.telemetry,
      this.logger,
      (ns) => this.policies.settings(ns).maxValueBytes,
    );
    this.writer = new EntryWriter(store, this.guard, this.invalidator, this.telemetry, this.logger, t);
    this.lists = new ListEntries(store, this.flights, this.reader, this.guard, this.invalidator, this.telemetry, t);
    this.leases = new LoadLease(this.space, store, this.guard, this.reader, this.telemetry, t);
    this.readThrough = new ReadThrough(
      store,
      this.flights,
      this.reader,
      this.writer,
      this.leases,
      this.telemetry,
      this.logger,
      t,
    );
    this.warmer = new CacheWarmer(
      this.space,
      this.leases,
      this.telemetry,
      this.logger,
      store.instanceId,
      options.deployId,
      tier,
    );
    const emit = (event: string, payload: CacheBackendEvent): void => {
      try {
        events?.emit(event, payload);
      } catch (err) {
        this.logger.warn(`emit:${event}`, LogMessages.listenerThrew(event, err));
      }
    };
    store.setHooks({
      onRemoteInvalidation: (msg) => this.invalidator.applyRemote(msg),
      onConnectionChange: (up, reason) => {
        if (!up) this.logger.warn('redis-down', LogMessages.redisDown(reason ?? 'unknown'));
        // A reconnect may be a failover to a replica that missed acknowledged invalidations: redo the recent ones.
        else this.replayer.redo(this.invalidator.recent.take());
        emit(up ? CacheEvents.backendUp : CacheEvents.backendDown, { backend: 'redis', ...(reason ? { reason } : {}) });
      },
      onRecovered: () => void this.replayer.replay(),
      onWarning: (topic, message) => this.logger.warn(topic, message),
    });
  }

  /** Connects Redis (bounded; never throws). */
  async connect(): Promise<void> {
    if (this.options.enabled) await this.store.connect();
  }

  async close(): Promise<void> {
    this.replayer.close();
    await this.store.close();
  }
}
