import { Writable } from 'node:stream';
import { Cluster } from 'ioredis';
import type { RedisClient } from './redis-client.factory.js';

/**
 * Commands issued in the same tick while others are in flight leave in one socket write (cork now, uncork on the
 * next tick): many concurrent callers cost one syscall instead of one each, as a pipeline would, without a
 * pipeline's bookkeeping. A lone command leaves at once. Standalone and Sentinel connections only (a Cluster spreads
 * commands over many sockets).
 * @example batcher.around(() => client.getrangeBuffer(key, 0, max))
 */
export class SocketBatcher {
  private corked = false;
  /** Commands in flight through {@link around}. */
  private inFlight = 0;

  constructor(private readonly client: RedisClient) {}

  async around<R>(send: () => Promise<R>): Promise<R> {
    if (++this.inFlight > 1) this.cork();
    try {
      return await send();
    } finally {
      this.inFlight--;
    }
  }

  private cork(): void {
    if (this.corked) return;
    const stream = this.stream;
    if (stream === undefined || stream.writableCorked > 0) return;
    stream.cork();
    this.corked = true;
    process.nextTick(() => {
      this.corked = false;
      stream.uncork();
    });
  }

  private get stream(): Writable | undefined {
    if (this.client instanceof Cluster) return undefined;
    const stream = (this.client as { stream?: unknown }).stream;
    return stream instanceof Writable ? stream : undefined;
  }
}
