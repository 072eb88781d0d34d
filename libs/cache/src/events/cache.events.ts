/** Events the module emits through @nestjs/event-emitter (when EventEmitterModule is imported). */
export const CacheEvents = {
  /** Entries were invalidated (locally or by another instance). Payload: CacheInvalidatedEvent. */
  invalidated: 'tiercache.invalidated',
  /** The Redis connection was lost. Payload: CacheBackendEvent. */
  backendDown: 'tiercache.backend.down',
  /** The Redis connection is back. Payload: CacheBackendEvent. */
  backendUp: 'tiercache.backend.up',
} as const;

/** Payload of `tiercache.invalidated`. */
export interface CacheInvalidatedEvent {
  namespace?: string;
  keys?: string[];
  tags?: string[];
  /** 'local' for this instance's own invalidations, 'remote' for another instance's. */
  origin: 'local' | 'remote';
}

/** Payload of `tiercache.backend.down` / `.up`. Never carries credentials. */
export interface CacheBackendEvent {
  backend: 'redis';
  reason?: string;
}
