import type { ReadReceiver, ReadShape } from './read-command.js';
import { ReadCommand, readShapeOf } from './read-command.js';
import type { RedisClient } from './redis-client.factory.js';
import { TimeoutListKeeper } from './timeout-list.keeper.js';

/**
 * Sends a hit's one read: `GETRANGE key 0 max` when reads are bounded (a stored value larger than any namespace
 * accepts is never transferred whole), otherwise `GET key`, with a Buffer reply, and resolves with what `received`
 * makes of the reply. On tiercache's own ioredis it is a {@link ReadCommand} (one precomputed RESP string, timed by
 * one timer per connection, the reply received in the command's own settlement); on a client from another copy of
 * ioredis, the client's own methods. Error replies reject as they are.
 * @example const answer = await new ReadSender(client, 1_048_602, (key, raw) => raw?.length).send('app:user:=n42');
 */
export class ReadSender<R = Buffer | null> {
  /** GETRANGE's end, as the string ioredis would make of it on every read. */
  private readonly end: string | undefined;
  private readonly shape: ReadShape<R> | undefined;
  /** For the fallback: keeps the Node timer list of ioredis's per-command timers. */
  private readonly timeouts: TimeoutListKeeper | undefined;

  constructor(
    private readonly client: RedisClient,
    maxReadBytes: number | undefined,
    private readonly received: ReadReceiver<R> = ((_key, raw) => raw) as ReadReceiver<R>,
  ) {
    this.end = maxReadBytes === undefined ? undefined : String(maxReadBytes);
    this.shape = readShapeOf(client, this.end, received);
    this.timeouts = this.shape === undefined ? TimeoutListKeeper.of(client) : undefined;
  }

  send(key: string): Promise<R> {
    const shape = this.shape;
    if (shape !== undefined) return this.client.sendCommand(new ReadCommand(key, shape)) as Promise<R>;
    this.timeouts?.touch();
    const end = this.end;
    const sent = end === undefined ? this.client.getBuffer(key) : this.client.getrangeBuffer(key, '0', end);
    return sent.then((raw) => this.received(key, raw));
  }

  close(): void {
    this.timeouts?.stop();
  }
}
