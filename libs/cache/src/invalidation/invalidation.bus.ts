import { Logger } from '@nestjs/common';
import type { RedisClient } from '../backends/redis/redis-client.factory.js';
import { isCluster } from '../backends/redis/redis-client.factory.js';
import type { KeySpace } from '../keys/key-space.js';
import { LogMessages } from '../errors/error-messages.js';
import type { InvalidationMessage } from './invalidation-message.js';
import { parseInvalidationMessage } from './invalidation-message.js';

/** Callbacks of the bus. */
export interface InvalidationBusHandlers {
  /** Apply another instance's invalidation to the local memory tier. */
  onMessage(message: InvalidationMessage): void;
  /** The subscription was lost or (re)established: messages may have been missed; stop trusting local copies. */
  onTrustChange(trusted: boolean): void;
}

/**
 * Cross-instance invalidation over Redis pub/sub on `<prefix>:__bus`. Carries keys, never values. While the
 * subscriber is not subscribed the local memory tier is not trusted (messages could be missed).
 * @example const bus = new InvalidationBus(client, subscriber, new KeySpace('bot'), instanceId, 250, handlers); await bus.start();
 */
export class InvalidationBus {
  private readonly logger = new Logger(InvalidationBus.name);
  readonly channel: string;
  private subscribed = false;

  constructor(
    private readonly publisher: RedisClient,
    private readonly subscriber: RedisClient,
    private readonly space: KeySpace,
    private readonly instanceId: string,
    private readonly heartbeatTimeoutMs: number,
    private readonly handlers: InvalidationBusHandlers,
    private readonly heartbeatIntervalMs = 1_000,
  ) {
    this.channel = space.channel;
  }

  private heartbeat: NodeJS.Timeout | undefined;
  private pinging = false;

  /** True while messages are being received. */
  get trusted(): boolean {
    return this.subscribed;
  }

  /** Subscribes and keeps the subscription; never throws (an unreachable Redis just leaves it untrusted). */
  start(): void {
    this.subscriber.on('message', (channel: string, payload: string) => {
      if (channel !== this.channel) return;
      const msg = parseInvalidationMessage(payload, this.space);
      if (msg && msg.o !== this.instanceId) this.handlers.onMessage(msg);
    });
    this.subscriber.on('ready', () => this.subscribe());
    this.subscriber.on('close', () => this.setTrusted(false));
    if (this.subscriber.status === 'ready') this.subscribe();
    // A frozen or silently dropped subscriber delivers nothing and reports nothing: PING it. A missed heartbeat
    // distrusts (and flushes) the memory tier until a PING answers again.
    this.heartbeat = setInterval(() => void this.beat(), this.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  /** Stops the heartbeat (the connections are closed by their owner). */
  stop(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private async beat(): Promise<void> {
    if (this.pinging || this.subscriber.status !== 'ready') return;
    this.pinging = true;
    const timer = setTimeout(() => this.setTrusted(false), this.heartbeatTimeoutMs);
    timer.unref();
    try {
      await this.subscriber.ping();
      clearTimeout(timer);
      if (!this.subscribed) this.subscribe();
    } catch (err) {
      clearTimeout(timer);
      this.logger.debug(LogMessages.backgroundFailed('bus heartbeat', err));
      this.setTrusted(false);
    } finally {
      this.pinging = false;
    }
  }

  /** Publishes an invalidation; resolves false (and never throws) when Redis cannot take it. */
  async publish(change: Omit<InvalidationMessage, 'v' | 'p' | 'o'>): Promise<boolean> {
    const payload = JSON.stringify({
      v: 1,
      p: this.space.prefix,
      o: this.instanceId,
      ...change,
    } satisfies InvalidationMessage);
    // On Cluster a PUBLISH reaches every node through the cluster bus, but it must first reach a live one: try each
    // master until one takes it (one dead master must not silence the bus).
    const targets = isCluster(this.publisher) ? this.publisher.nodes('master') : [this.publisher];
    for (const target of targets) {
      try {
        await target.publish(this.channel, payload);
        return true;
      } catch (err) {
        this.logger.debug(LogMessages.backgroundFailed('bus publish', err));
      }
    }
    return false;
  }

  private subscribe(): void {
    // autoResubscribe would also resubscribe, but only an explicit reply tells us the subscription is live.
    this.subscriber.subscribe(this.channel).then(
      () => this.setTrusted(true),
      (err: unknown) => {
        this.logger.debug(LogMessages.backgroundFailed('bus subscribe', err));
        this.setTrusted(false);
      },
    );
  }

  private setTrusted(trusted: boolean): void {
    if (this.subscribed === trusted) return;
    this.subscribed = trusted;
    this.handlers.onTrustChange(trusted);
  }
}
