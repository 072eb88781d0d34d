import { Cluster, Command, Redis } from 'ioredis';
import type { RedisClient } from './redis-client.factory.js';

/** What ioredis rejects a command with when its `commandTimeout` passes (the guards match /timed out/). */
const TIMED_OUT = 'Command timed out';
/** Settled reads dropped from the front at once beyond this many (the rest wait for the array to be half dead). */
const COMPACT_AT = 1_024;

/**
 * The deadlines of one connection's reads in flight, kept by one timer instead of ioredis's timer per command
 * (a `setTimeout` and a `clearTimeout` per hit). Reads are kept in the order they were sent; one timer waits for the
 * oldest unsettled read's deadline, rejects every read past its deadline ('Command timed out', as ioredis does),
 * and waits for the next. Settled reads are dropped as new ones come, so what is kept is about what is in flight.
 * All reads of a connection share one timeout, so deadlines are in send order.
 */
export class ReadDeadlines {
  private readonly reads: ReadCommand[] = [];
  private readonly deadlines: number[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  watch(read: ReadCommand, ms: number): void {
    this.dropSettled();
    this.reads.push(read);
    this.deadlines.push(performance.now() + ms);
    if (this.timer === undefined) this.arm(ms);
  }

  /** Reads kept (settled ones not yet dropped included). */
  get size(): number {
    return this.reads.length - this.head;
  }

  private dropSettled(): void {
    const { reads, deadlines } = this;
    let head = this.head;
    while (head < reads.length && reads[head]!.isSettled) head++;
    if (head === reads.length) {
      reads.length = 0;
      deadlines.length = 0;
      head = 0;
    } else if (head >= COMPACT_AT && head * 2 >= reads.length) {
      reads.splice(0, head);
      deadlines.splice(0, head);
      head = 0;
    }
    this.head = head;
  }

  private arm(ms: number): void {
    // Unref'd: a read in flight keeps the process up through its socket, not through this timer.
    this.timer = setTimeout(() => this.expire(), Math.max(1, Math.ceil(ms))).unref();
  }

  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    const { reads, deadlines } = this;
    while (this.head < reads.length && (reads[this.head]!.isSettled || deadlines[this.head]! <= now)) {
      const read = reads[this.head++]!;
      if (!read.isSettled) read.reject(new Error(TIMED_OUT));
    }
    this.dropSettled();
    if (this.head < reads.length) this.arm(deadlines[this.head]! - now);
  }
}

/** The fixed parts of one backend's read command, on the wire. */
export interface ReadShape {
  /** `GETRANGE key 0 end` when reads are bounded, otherwise `GET key`. */
  readonly end: string | undefined;
  readonly deadlines: ReadDeadlines;
  /** The client's ioredis `keyPrefix`, applied as its own commands do. */
  readonly keyPrefix: string | undefined;
  /** The RESP text before the key's length, and after the key. */
  readonly head: string;
  readonly tail: string;
}

/**
 * A hit's one read command: GETRANGE (bounded) or GET with a Buffer reply, written as one precomputed RESP string
 * and timed by {@link ReadDeadlines} instead of a timer of its own. Sent with the client's `sendCommand`, so
 * Cluster routing, MOVED/ASK redirects and the offline rules are ioredis's.
 */
export class ReadCommand extends Command {
  private watched = false;

  constructor(
    key: string,
    private readonly shape: ReadShape,
  ) {
    super(
      shape.end === undefined ? 'get' : 'getrange',
      shape.end === undefined ? [key] : [key, '0', shape.end],
      shape.keyPrefix === undefined ? { replyEncoding: null } : { replyEncoding: null, keyPrefix: shape.keyPrefix },
    );
  }

  /** Called by ioredis when it sends the command (again after a Cluster redirect: timed once, from the first). */
  override setTimeout(ms: number): void {
    if (this.watched) return;
    this.watched = true;
    this.shape.deadlines.watch(this, ms);
  }

  override toWritable(socket: object): string | Buffer {
    const key = this.args[0];
    if (typeof key !== 'string') return super.toWritable(socket);
    return `${this.shape.head}${Buffer.byteLength(key)}\r\n${key}${this.shape.tail}`;
  }
}

/**
 * The read shape of a client, or undefined when its reads go through its own methods: a client built by another
 * copy of ioredis than tiercache's (a user's own client) is sent nothing of this copy's classes.
 */
export function readShapeOf(client: RedisClient, end: string | undefined): ReadShape | undefined {
  if (!(client instanceof Redis) && !(client instanceof Cluster)) return undefined;
  // ioredis prefixes the keys of a command with the client's own `keyPrefix` (a Cluster's, not its nodes').
  const prefix: unknown = (client.options as { keyPrefix?: unknown }).keyPrefix;
  if (prefix !== undefined && typeof prefix !== 'string') return undefined;
  return {
    end,
    deadlines: new ReadDeadlines(),
    keyPrefix: prefix === '' ? undefined : prefix,
    head: end === undefined ? '*2\r\n$3\r\nget\r\n$' : '*4\r\n$8\r\ngetrange\r\n$',
    tail: end === undefined ? '\r\n' : `\r\n$1\r\n0\r\n$${end.length}\r\n${end}\r\n`,
  };
}
