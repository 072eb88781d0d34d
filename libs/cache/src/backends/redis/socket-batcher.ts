import { Writable } from 'node:stream';
import type { RedisClient } from './redis-client.factory.js';
import { isCluster } from './redis-client.factory.js';

/**
 * Commands issued in the same tick while others are in flight leave in one socket write (cork now, uncork on the
 * next tick): many concurrent callers cost one syscall instead of one each, as a pipeline would, without a
 * pipeline's bookkeeping. A lone command leaves at once. Standalone and Sentinel connections only (a Cluster spreads
 * commands over many sockets).
 * @example batcher.join(); const sent = client.getrangeBuffer(key, 0, max);
 */
export class SocketBatcher {
  private corked = false;

  constructor(private readonly client: RedisClient) {}

  /**
   * Call right before sending a command: with replies still awaited on the connection, the command joins this
   * tick's write. No wrapper promise, no closure: the caller sends the command itself.
   */
  join(): void {
    // ioredis's queue of commands sent and awaiting their reply: a cheap "others in flight".
    const queue = (this.client as { commandQueue?: { length?: unknown } }).commandQueue;
    if (typeof queue?.length === 'number' && queue.length > 0) this.cork();
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
    if (isCluster(this.client)) return undefined;
    const stream = (this.client as { stream?: unknown }).stream;
    return stream instanceof Writable ? stream : undefined;
  }
}
