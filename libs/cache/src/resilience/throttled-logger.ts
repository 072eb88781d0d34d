import { Logger } from '@nestjs/common';
import { redact } from '../backends/redis/redis-client.factory.js';

/**
 * Logs each distinct warning at most once per interval and says how many were suppressed meanwhile, so an outage
 * produces a few lines, not thousands. Messages are redacted of credentials.
 */
export class ThrottledLogger {
  /** Topics remembered at most (topics may name namespaces, which callers choose): the oldest is forgotten first. */
  static readonly MAX_TOPICS = 1_000;
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  /** Logs at info level, throttled like warnings. */
  log(topic: string, message: string): void {
    this.emit(topic, message, (m) => this.logger.log(m));
  }

  warn(topic: string, message: string): void {
    this.emit(topic, message, (m) => this.logger.warn(m));
  }

  private emit(topic: string, message: string, write: (m: string) => void): void {
    const now = Date.now();
    const seen = this.last.get(topic);
    if (seen && now - seen.at < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    const suffix = seen && seen.suppressed > 0 ? ` (${seen.suppressed} similar suppressed)` : '';
    this.last.delete(topic);
    this.last.set(topic, { at: now, suppressed: 0 });
    if (this.last.size > ThrottledLogger.MAX_TOPICS) {
      const oldest = this.last.keys().next().value;
      if (oldest !== undefined) this.last.delete(oldest);
    }
    write(redact(message) + suffix);
  }
}
