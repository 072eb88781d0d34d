import { Logger } from '@nestjs/common';
import type { RedisClient } from '../backends/redis/redis-client.factory.js';
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
 * @example const bus = new InvalidationBus(client, subscriber, 'bot', instanceId, handlers); await bus.start();
 */
export class InvalidationBus {
  private readonly logger = new Logger(InvalidationBus.name);
  readonly channel: string;
  private subscribed = false;

  constructor(
    private readonly publisher: RedisClient,
    private readonly subscriber: RedisClient,
    private readonly prefix: string,
    private readonly instanceId: string,
    private readonly handlers: InvalidationBusHandlers,
  ) {
    this.channel = `${prefix}:__bus`;
  }

  /** True while messages are being received. */
  get trusted(): boolean {
    return this.subscribed;
  }

  /** Subscribes and keeps the subscription; never throws (an unreachable Redis just leaves it untrusted). */
  start(): void {
    this.subscriber.on('message', (channel: string, payload: string) => {
      if (channel !== this.channel) return;
      const msg = parseInvalidationMessage(payload, this.prefix);
      if (msg && msg.o !== this.instanceId) this.handlers.onMessage(msg);
    });
    this.subscriber.on('ready', () => this.subscribe());
    this.subscriber.on('close', () => this.setTrusted(false));
    if (this.subscriber.status === 'ready') this.subscribe();
  }

  /** Publishes an invalidation; resolves false (and never throws) when Redis cannot take it. */
  async publish(change: Omit<InvalidationMessage, 'v' | 'p' | 'o'>): Promise<boolean> {
    const msg: InvalidationMessage = { v: 1, p: this.prefix, o: this.instanceId, ...change };
    try {
      await this.publisher.publish(this.channel, JSON.stringify(msg));
      return true;
    } catch (err) {
      this.logger.debug(`publish failed: ${(err as Error).message}`);
      return false;
    }
  }

  private subscribe(): void {
    // autoResubscribe would also resubscribe, but only an explicit reply tells us the subscription is live.
    this.subscriber.subscribe(this.channel).then(
      () => this.setTrusted(true),
      (err: unknown) => {
        this.logger.debug(`subscribe failed: ${(err as Error).message}`);
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
