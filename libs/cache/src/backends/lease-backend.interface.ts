/** Backends that can hold a distributed lease (Redis): one loader per key across instances. */
export interface LeaseBackend {
  /** SET NX PX: true if this caller now holds the lease. */
  acquireLease(leaseKey: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Releases the lease only if `holder` still holds it. */
  releaseLease(leaseKey: string, holder: string): Promise<void>;
  /** Whether anyone holds the lease. */
  leaseHeld(leaseKey: string): Promise<boolean>;
}

/** Type guard for backends with lease support. */
export function isLeaseBackend(backend: object): backend is LeaseBackend {
  return typeof (backend as Partial<LeaseBackend>).acquireLease === 'function';
}
