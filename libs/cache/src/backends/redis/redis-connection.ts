import { Logger } from '@nestjs/common';
import type { RedisOptions } from 'ioredis';
import { LogMessages } from '../../errors/error-messages.js';
import type { ResolvedCacheOptions, ResolvedRedis } from '../../options/resolved-options.js';
import { ThrottledLogger } from '../../resilience/throttled-logger.js';
import { causeUnknown, diagnoseNode, lastNodeError } from './node-diagnosis.js';
import { ConnectionBreaker } from './connection-breaker.js';
import type { RedisClient } from './redis-client.factory.js';
import { createRedisClient, failFastProblems, isCluster, redact, scrubCredentials } from './redis-client.factory.js';

/** What the connection tells its owner. */
export interface RedisConnectionEvents {
  /** Connected (again), or lost. */
  onChange(up: boolean, reason?: string): void;
  /**
   * Redis answered again after failures — the breaker closed (a probe succeeded), or an operation succeeded after
   * failures too few to open it: time to redo queued invalidations.
   */
  onRecovered(): void;
  onWarning(topic: string, message: string): void;
}

/**
 * The lifecycle of the Redis connections of one module: connect with a bounded wait, the circuit breaker (one per
 * Cluster master, see {@link ConnectionBreaker}) and its background probes, the server clock offset (for write deadlines), the maxmemory hygiene check, and close.
 * @example const conn = new RedisConnection(options.redis, options, events); await conn.connect();
 */
export class RedisConnection {
  readonly client: RedisClient;
  /** The bus subscriber (only with a memory tier: it is what keeps that tier coherent). */
  readonly subscriber: RedisClient | undefined;
  /** Open after consecutive failures (on Cluster: per master): operations answer from the source at once. */
  readonly breaker: ConnectionBreaker;
  private readonly logger = new Logger('RedisConnection');
  /** Connection errors, said at warn level once per cause per interval (the cause, not just "connection closed"). */
  private readonly causes: ThrottledLogger;
  private up = false;
  private closing = false;
  /** Redis server time minus local time, measured on every (re)connect (TIME). */
  private offsetMs = 0;
  private hygieneChecked = false;
  private readonly connectTimeoutMs: number;
  /** The node to diagnose when ioredis cannot say why none answers: a Cluster seed node, or the first sentinel. */
  private readonly seed: { host: string; port: number } | undefined;
  private diagnosedAt = -Infinity;

  constructor(
    config: ResolvedRedis,
    private readonly options: Pick<ResolvedCacheOptions, 'prefix' | 'commandTimeoutMs' | 'breaker' | 'logThrottleMs'>,
    withSubscriber: boolean,
    private readonly events: RedisConnectionEvents,
  ) {
    this.connectTimeoutMs = config.connectTimeoutMs;
    this.seed =
      config.mode === 'cluster' ? config.nodes[0] : config.mode === 'sentinel' ? config.sentinels[0] : undefined;
    this.causes = new ThrottledLogger(this.logger, options.logThrottleMs);
    const name = `${options.prefix}:cache`;
    const main = createRedisClient(config, { commandTimeoutMs: options.commandTimeoutMs, connectionName: name });
    this.client = main.client;
    if (!main.owned) this.borrowed.add(main.client);
    this.breaker = new ConnectionBreaker(
      this.client,
      options.breaker,
      {
        // A write-through that failed in a blip too short to open the circuit is queued too: replay it on the next success.
        onRecovered: () => this.events.onRecovered(),
        onWarning: (topic, message) => this.events.onWarning(topic, message),
      },
      this.logger,
    );
    this.watch(this.client, 'main');
    if (withSubscriber) {
      const bus = createRedisClient(config, {
        commandTimeoutMs: options.commandTimeoutMs,
        connectionName: `${name}:bus`,
        role: 'bus',
      });
      this.subscriber = bus.client;
      this.watch(bus.client, 'bus');
    }
    // A client tiercache did not configure (passed in, made by the user's factory, or with ioredis options given)
    // may queue or retry: say which setting to change, once.
    if (config.mode === 'client' || config.ioredis !== undefined) {
      const problems = failFastProblems(this.client);
      if (problems.length > 0) this.logger.warn(LogMessages.notFailFast(problems));
    }
  }

  /** Clients the user passed in: theirs to close, never ours. */
  private readonly borrowed = new Set<RedisClient>();
  /** tiercache's listeners on the main client (removed from a borrowed client on close). */
  private readonly listeners: [string, (...args: unknown[]) => void][] = [];

  /** True while the main connection is ready. */
  get connected(): boolean {
    return this.up;
  }

  /** Redis server time (epoch ms) now, as measured: the base of write deadlines. */
  serverNow(): number {
    return Date.now() + this.offsetMs;
  }

  /** Connects (bounded by redis.connectTimeout); never throws: an unreachable Redis leaves the cache degraded. */
  async connect(): Promise<void> {
    const clients = [this.client, this.subscriber].filter((c): c is RedisClient => c !== undefined);
    await Promise.all(
      // A client passed in may be connecting or connected already: only a lazy one ('wait') is connected here.
      clients
        .filter((client) => client.status === 'wait')
        .map((client) => this.connectWithin(client, this.connectTimeoutMs)),
    );
  }

  /**
   * One client's connect, waited for at most `ms` (+ a margin): with Sentinel, ioredis keeps retrying the sentinels
   * and its connect() never settles while none answers, which held app.init() forever. The client keeps connecting
   * in the background; 'ready' brings the cache up whenever it comes.
   */
  private async connectWithin(client: RedisClient, ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(LogMessages.noConnectionWithin(ms + CONNECT_MARGIN_MS)), ms + CONNECT_MARGIN_MS);
    });
    const connected = client.connect().then(
      () => undefined,
      (err: unknown) => causeOf(err as Error),
    );
    const reason = await Promise.race([connected, waited]);
    clearTimeout(timer);
    if (reason !== undefined) this.logger.warn(redact(LogMessages.redisUnreachableAtBoot(reason)));
  }

  /**
   * Every Cluster node or every sentinel failed with nothing but "Connection is closed." (ioredis swallowed the
   * socket's error): find the cause on one seed node or sentinel and say it, at most once per log interval.
   */
  private async diagnose(): Promise<void> {
    const now = performance.now();
    if (!this.seed || now - this.diagnosedAt < this.options.logThrottleMs) return;
    this.diagnosedAt = now;
    const client = this.client;
    // The options ioredis connects that node with: a Cluster's node options, or the sentinels' own.
    const sentinel = client.options as RedisOptions;
    const options: RedisOptions = isCluster(client)
      ? { ...client.options.redisOptions }
      : {
          ...(sentinel.sentinelTLS ? { tls: sentinel.sentinelTLS } : {}),
          ...(sentinel.sentinelUsername !== undefined ? { username: sentinel.sentinelUsername } : {}),
          ...(sentinel.sentinelPassword !== undefined ? { password: sentinel.sentinelPassword } : {}),
        };
    const err = await diagnoseNode(options, this.seed, this.connectTimeoutMs);
    if (!err || this.closing) return;
    scrubCredentials(err);
    const cause = `${this.seed.host}:${this.seed.port}: ${causeOf(err)}`;
    this.causes.warn(`cause:node:${causeOf(err)}`, LogMessages.redisError('main', cause));
  }

  async close(): Promise<void> {
    this.closing = true;
    this.breaker.stop();
    await Promise.all(
      [this.client, this.subscriber].map(async (client) => {
        if (!client) return;
        if (this.borrowed.has(client)) {
          // The user's client stays open for the user: only tiercache's listeners go.
          for (const [event, listener] of this.listeners) client.off(event, listener);
          return;
        }
        client.removeAllListeners('ready');
        await client.quit().catch(() => client.disconnect());
      }),
    );
  }

  private async measureClock(client: RedisClient, attempt = 1): Promise<void> {
    try {
      const sent = Date.now();
      const [seconds, micros] = await client.time();
      const received = Date.now();
      const server = Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
      this.offsetMs = server - (sent + received) / 2;
      if (Math.abs(this.offsetMs) > 1_000) this.logger.warn(LogMessages.clockSkew(this.offsetMs));
    } catch (err) {
      this.logger.debug(redact(LogMessages.backgroundFailed('TIME', err)));
      this.retrySoon(client, attempt, () => this.measureClock(client, attempt + 1));
    }
  }

  /** Warns once when Redis may refuse writes when full (no maxmemory, or the noeviction policy). Uses INFO only. */
  private async checkHygiene(client: RedisClient, attempt = 1): Promise<void> {
    if (this.hygieneChecked && attempt === 1) return;
    this.hygieneChecked = true;
    try {
      const info = await client.info('memory');
      const maxmemory = /^maxmemory:(\d+)/m.exec(info)?.[1];
      const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
      if (maxmemory === '0' || policy === 'noeviction') this.logger.warn(LogMessages.hygiene(maxmemory, policy));
    } catch (err) {
      this.logger.debug(redact(LogMessages.backgroundFailed('INFO memory', err)));
      // Not checked after all: try again shortly; after the last attempt, on the next reconnect.
      if (attempt >= 3) this.hygieneChecked = false;
      this.retrySoon(client, attempt, () => this.checkHygiene(client, attempt + 1));
    }
  }

  /**
   * Runs a boot-time check again a little later: at boot the event loop can be busy long enough for a command sent
   * on 'ready' to hit its timeout although Redis answered. A few attempts, unref'd, none once the client has ended.
   */
  private retrySoon(client: RedisClient, attempt: number, again: () => Promise<void>): void {
    if (attempt >= 3 || client.status === 'end') return;
    setTimeout(() => {
      if (client.status !== 'end') void again();
    }, 1_000 * attempt).unref();
  }

  private watch(client: RedisClient, role: 'main' | 'bus'): void {
    // Without an 'error' listener ioredis would raise an unhandled 'error' event and crash the process.
    const on = <A extends unknown[]>(event: string, listener: (...args: A) => void): void => {
      const untyped = listener as (...args: unknown[]) => void;
      client.on(event, untyped);
      if (role === 'main') this.listeners.push([event, untyped]);
    };
    on('error', (err: Error) => {
      scrubCredentials(err);
      if (this.closing) return;
      const cause = causeOf(err);
      // Keyed without numbers: "Retrying from scratch after 300ms" is one cause however long the backoff.
      this.causes.warn(`cause:${role}:${cause.replace(/\d+/g, '#')}`, LogMessages.redisError(role, cause));
      if (role === 'main' && causeUnknown(err)) void this.diagnose();
    });
    if (role !== 'main') return;
    const ready = (): void => {
      if (this.up) return;
      this.up = true;
      this.breaker.reset();
      this.events.onChange(true);
      void this.checkHygiene(client);
      void this.measureClock(client);
    };
    on('ready', ready);
    on('close', () => {
      if (!this.up) return;
      this.up = false;
      // A clean shutdown is not an outage: say nothing then.
      if (!this.closing) this.events.onChange(false, 'connection closed');
    });
    // A client passed in connected already: it will not say 'ready' again.
    if (client.status === 'ready') queueMicrotask(ready);
  }
}

/** Slack over redis.connectTimeout before the boot stops waiting for a connection (DNS, TLS, a ready check). */
const CONNECT_MARGIN_MS = 1_000;

/**
 * The reason of a connection error, as the operator needs it (TLS, auth, refused), without secrets; a Cluster's
 * "every node failed" error names the last node's error too.
 */
function causeOf(err: Error): string {
  const code = (err as { code?: unknown }).code;
  const text = err.message.length > 200 ? `${err.message.slice(0, 200)}…` : err.message;
  const own = typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text;
  const last = lastNodeError(err);
  return last && last.message !== err.message ? `${own} (last node error: ${causeOf(last)})` : own;
}
