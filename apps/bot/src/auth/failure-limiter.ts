/** Options of {@link FailureLimiter}. */
export interface FailureLimiterOptions {
  /** Failures allowed per client and window. */
  maxFailures: number;
  windowMs: number;
  /** Clients tracked at once (oldest windows are dropped first), so the map stays bounded under a spray of IPs. */
  maxClients: number;
}

/**
 * Counts failed attempts (wrong admin tokens) per client in fixed windows: once a client reaches `maxFailures`, it is
 * blocked — even with the right token — until its window ends. In-process: each instance counts its own.
 * @example if (limiter.blocked(ip)) throw 429; ... limiter.fail(ip);
 */
export class FailureLimiter {
  private readonly windows = new Map<string, { start: number; failures: number }>();

  constructor(
    private readonly options: FailureLimiterOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until the client may try again, or 0 when it is not blocked. */
  retryAfter(client: string): number {
    const window = this.current(client);
    if (!window || window.failures < this.options.maxFailures) return 0;
    return Math.max(1, Math.ceil((window.start + this.options.windowMs - this.now()) / 1000));
  }

  fail(client: string): void {
    const window = this.current(client);
    if (window) {
      window.failures++;
      return;
    }
    if (this.windows.size >= this.options.maxClients) {
      const oldest = this.windows.keys().next().value;
      if (oldest !== undefined) this.windows.delete(oldest);
    }
    this.windows.set(client, { start: this.now(), failures: 1 });
  }

  private current(client: string): { start: number; failures: number } | undefined {
    const window = this.windows.get(client);
    if (window && this.now() - window.start >= this.options.windowMs) {
      this.windows.delete(client);
      return undefined;
    }
    return window;
  }
}
