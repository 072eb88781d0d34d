import type { RedisOptions } from 'ioredis';
import type { RedisClient } from './redis-client.factory.js';
import { isCluster } from './redis-client.factory.js';

/**
 * Keeps Node's timer list of the client's `commandTimeout` alive while commands flow, so ioredis's per-command
 * timer costs an append and an unlink. Node keeps one list per duration: when the last timer of a duration is
 * cleared the list is destroyed (priority queue removal), and the next command's timer creates it again (priority
 * queue insert, a libuv timer rescheduled) — at concurrency 1 that happens on every command, a measurable share of a
 * hit. One unref'd interval of the same duration holds the list; it stops itself after an idle period, so an idle
 * process is not woken up. Timeouts behave exactly as before: each command keeps its own timer.
 * @example const keeper = TimeoutListKeeper.of(client); keeper?.touch(); client.get(key);
 */
export class TimeoutListKeeper {
  private timer: NodeJS.Timeout | undefined;
  private used = false;

  private constructor(private readonly ms: number) {}

  /** A keeper for the client's command timeout; undefined when its commands have none. */
  static of(client: RedisClient): TimeoutListKeeper | undefined {
    const options = (isCluster(client) ? client.options.redisOptions : client.options) as RedisOptions | undefined;
    const ms = options?.commandTimeout;
    return typeof ms === 'number' && ms >= 1 ? new TimeoutListKeeper(ms) : undefined;
  }

  /** Call when sending a command: keeps (or starts) the holding timer. */
  touch(): void {
    this.used = true;
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      if (!this.used) this.stop();
      this.used = false;
    }, this.ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
