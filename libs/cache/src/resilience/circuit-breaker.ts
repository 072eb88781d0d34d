/** Options of a circuit breaker. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. @default 3 */
  threshold?: number;
  /** Called on a success that follows any failure (open or not): e.g. to redo work queued during a short blip. */
  onRecovered?: () => void;
}

/** The breaker's state. */
export type CircuitState = 'closed' | 'open';

/**
 * What a backend guard asks of a breaker, naming the keys an operation touches: a breaker per Redis Cluster master
 * decides by the master that serves them; a plain {@link CircuitBreaker} has one state and ignores them.
 */
export interface Breaker {
  readonly state: CircuitState;
  allow(keys?: string | readonly string[]): boolean;
  success(keys?: string | readonly string[]): void;
  failure(keys?: string | readonly string[]): void;
}

/**
 * A circuit breaker per Redis connection: after `threshold` consecutive failures it opens and every cache operation
 * is answered from the source at once — no caller waits on a dead or frozen server. Callers never probe: the owner
 * of the connection probes in the background (a PING about once a second) and closes the circuit on success, so
 * no user request ever pays for a probe.
 * @example if (!breaker.allow()) return fallback; try { ...; breaker.success(); } catch { breaker.failure(); }
 */
export class CircuitBreaker {
  private failures = 0;
  private readonly threshold: number;
  private readonly onRecovered: (() => void) | undefined;

  constructor(
    options: CircuitBreakerOptions = {},
    private readonly onChange?: (state: CircuitState) => void,
  ) {
    this.threshold = options.threshold ?? 3;
    this.onRecovered = options.onRecovered;
  }

  get state(): CircuitState {
    return this.failures < this.threshold ? 'closed' : 'open';
  }

  /** Whether an operation may go to the backend now. */
  allow(): boolean {
    return this.failures < this.threshold;
  }

  success(): void {
    if (this.failures === 0) return;
    const wasOpen = this.failures >= this.threshold;
    this.failures = 0;
    if (wasOpen) this.onChange?.('closed');
    this.onRecovered?.();
  }

  failure(): void {
    this.failures++;
    if (this.failures === this.threshold) this.onChange?.('open');
  }

  /** Closes the circuit (a background probe succeeded, or the connection reported ready again). */
  reset(): void {
    this.success();
  }
}
