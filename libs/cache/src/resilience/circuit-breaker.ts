/** Options of a circuit breaker. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. @default 3 */
  threshold?: number;
  /** Time the circuit stays open before one probe may pass. @default 1000 */
  probeIntervalMs?: number;
}

/** The breaker's state. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * A circuit breaker per Redis connection: after `threshold` consecutive failures it opens and every cache operation
 * is answered from the source at once (no waiting on a dead or frozen server); about once per `probeIntervalMs` a
 * single operation is let through as a probe, and its success closes the circuit.
 * @example if (!breaker.allow()) return fallback; try { ...; breaker.success(); } catch { breaker.failure(); }
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  private readonly threshold: number;
  private readonly probeIntervalMs: number;

  constructor(
    options: CircuitBreakerOptions = {},
    private readonly onChange?: (state: CircuitState) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.threshold = options.threshold ?? 3;
    this.probeIntervalMs = options.probeIntervalMs ?? 1_000;
  }

  get state(): CircuitState {
    if (this.failures < this.threshold) return 'closed';
    return this.probing ? 'half-open' : 'open';
  }

  /** Whether an operation may go to the backend now (true for at most one probe per interval while open). */
  allow(): boolean {
    if (this.failures < this.threshold) return true;
    if (this.probing || this.now() - this.openedAt < this.probeIntervalMs) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    const wasOpen = this.failures >= this.threshold;
    this.failures = 0;
    this.probing = false;
    if (wasOpen) this.onChange?.('closed');
  }

  failure(): void {
    this.failures++;
    if (this.probing || this.failures === this.threshold) {
      this.probing = false;
      this.openedAt = this.now();
      if (this.failures === this.threshold) this.onChange?.('open');
    }
  }

  /** Closes the circuit at once (e.g. the connection reported ready again). */
  reset(): void {
    this.success();
  }
}
