import { Cluster, Command, Redis } from 'ioredis';
import type { RedisClient } from './redis-client.factory.js';

/** What ioredis rejects a command with when its `commandTimeout` passes (the guards match /timed out/). */
const TIMED_OUT = 'Command timed out';
/** A ring of reads larger than this is replaced by a small one once no read is in flight. */
const SHRINK_ABOVE = 1_024;

/**
 * The deadlines of one connection's reads in flight, kept by one timer instead of ioredis's timer per command
 * (a `setTimeout` and a `clearTimeout` per hit). Reads are kept in the order they were sent; one timer waits for the
 * oldest unsettled read's deadline, rejects every read past its deadline ('Command timed out', as ioredis does),
 * and waits for the next. Settled reads are dropped as new ones come, so what is kept is about what is in flight,
 * in a ring that grows for a burst (power-of-two sizes) and is given back once the burst has drained: a read
 * allocates nothing here. All reads of a connection share one timeout, so deadlines are in send order.
 */
export class ReadDeadlines {
  /** Reads and their deadlines in send order, from `head` to `tail` (a ring: no array is regrown per read). */
  private reads: (Command | undefined)[] = new Array<Command | undefined>(16);
  private deadlines = new Float64Array(16);
  private head = 0;
  private tail = 0;
  private timer: NodeJS.Timeout | undefined;

  watch(read: Command, ms: number): void {
    this.dropSettled();
    if (this.tail - this.head === this.reads.length) this.grow();
    const at = this.tail++ & (this.reads.length - 1);
    this.reads[at] = read;
    this.deadlines[at] = performance.now() + ms;
    if (this.timer === undefined) this.arm(ms);
  }

  /** Reads kept (settled ones not yet dropped included). */
  get size(): number {
    return this.tail - this.head;
  }

  /** Drops the settled reads at the front (the common case: the one before this read, already answered). */
  private dropSettled(): void {
    const { reads } = this;
    const mask = reads.length - 1;
    while (this.head < this.tail && reads[this.head & mask]!.isSettled) reads[this.head++ & mask] = undefined;
    if (this.head !== this.tail) return;
    this.head = this.tail = 0;
    // Once a burst has drained, a ring grown for it is given back.
    if (reads.length > SHRINK_ABOVE) {
      this.reads = new Array<Command | undefined>(16);
      this.deadlines = new Float64Array(16);
    }
  }

  private grow(): void {
    const size = this.reads.length;
    const reads = new Array<Command | undefined>(size * 2);
    const deadlines = new Float64Array(size * 2);
    for (let i = 0; i < size; i++) {
      reads[i] = this.reads[(this.head + i) & (size - 1)];
      deadlines[i] = this.deadlines[(this.head + i) & (size - 1)]!;
    }
    this.reads = reads;
    this.deadlines = deadlines;
    this.head = 0;
    this.tail = size;
  }

  private arm(ms: number): void {
    // Unref'd: a read in flight keeps the process up through its socket, not through this timer.
    this.timer = setTimeout(() => this.expire(), Math.max(1, Math.ceil(ms))).unref();
  }

  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    const { reads, deadlines } = this;
    const mask = reads.length - 1;
    while (this.head < this.tail) {
      const at = this.head & mask;
      const read = reads[at]!;
      if (!read.isSettled && deadlines[at]! > now) break;
      reads[at] = undefined;
      this.head++;
      if (!read.isSettled) read.reject(new Error(TIMED_OUT));
    }
    this.dropSettled();
    if (this.head < this.tail) this.arm(deadlines[this.head & mask]! - now);
  }
}

/** What a read's reply becomes: the backend's answer, made in the reply's own settlement (no extra reaction). */
export type ReadReceiver<R> = (key: string, raw: Buffer | null) => R | Promise<R>;

/** The raw reply itself (a shape without a receiver). */
const RAW: ReadReceiver<Buffer | null> = (_key, raw) => raw;

/** The fixed parts of one backend's read command, on the wire, and what its replies become. */
export interface ReadShape<R = Buffer | null> {
  /** `GETRANGE key 0 end` when reads are bounded, otherwise `GET key`. */
  readonly end: string | undefined;
  readonly deadlines: ReadDeadlines;
  /** Command options: a Buffer reply, and the client's ioredis `keyPrefix` applied as its own commands do. */
  readonly options: { replyEncoding: null; keyPrefix?: string };
  /** The RESP text before the key's length, and after the key. */
  readonly head: string;
  readonly tail: string;
  /** Called with the key as given (before any keyPrefix) and the reply; the command resolves with its answer. */
  readonly received: ReadReceiver<R>;
}

/**
 * A hit's one read command: GETRANGE (bounded) or GET with a Buffer reply, written as one precomputed RESP string
 * and timed by {@link ReadDeadlines} instead of a timer of its own. Its promise resolves with what the shape's
 * receiver makes of the reply (the backend's answer: one settlement per hit, not one per layer); error replies
 * reject it as they are. Sent with the client's `sendCommand`, so Cluster routing, MOVED/ASK redirects and the
 * offline rules are ioredis's.
 */
export class ReadCommand<R = Buffer | null> extends Command {
  private watched = false;

  constructor(
    private readonly key: string,
    private readonly shape: ReadShape<R>,
  ) {
    // The key alone: GETRANGE's fixed range is in the precomputed RESP text (`shape.tail`). ioredis copies and
    // scans a command's arguments when it builds one (half the cost of a three-argument GETRANGE); the key is all
    // it reads of them afterwards (the client's keyPrefix, Cluster slots, redirects).
    super(shape.end === undefined ? 'get' : 'getrange', [key], shape.options);
  }

  /** Called by ioredis when it sends the command (again after a Cluster redirect: timed once, from the first). */
  override setTimeout(ms: number): void {
    if (this.watched) return;
    this.watched = true;
    this.shape.deadlines.watch(this, ms);
  }

  /**
   * ioredis resolves the command with what this returns (its own transform is only a string encoding, off for a
   * Buffer reply); a receiver that throws rejects it. Typed as ioredis types raw replies.
   */
  override transformReply(raw: Buffer | Buffer[]): ReturnType<Command['transformReply']> {
    return this.shape.received(this.key, Buffer.isBuffer(raw) ? raw : null) as unknown as Buffer;
  }

  override toWritable(socket: object): string | Buffer {
    const key = this.args[0];
    if (typeof key === 'string') return `${this.shape.head}${Buffer.byteLength(key)}\r\n${key}${this.shape.tail}`;
    // Not a string key (readShapeOf never makes such a shape): ioredis writes it, with the range made explicit.
    const { end } = this.shape;
    if (end !== undefined && this.args.length === 1) this.args.push('0', end);
    return super.toWritable(socket);
  }
}

/**
 * The read shape of a client, or undefined when its reads go through its own methods: a client built by another
 * copy of ioredis than tiercache's (a user's own client) is sent nothing of this copy's classes.
 */
export function readShapeOf(client: RedisClient, end: string | undefined): ReadShape | undefined;
export function readShapeOf<R>(
  client: RedisClient,
  end: string | undefined,
  received: ReadReceiver<R>,
): ReadShape<R> | undefined;
export function readShapeOf<R>(
  client: RedisClient,
  end: string | undefined,
  received: ReadReceiver<R | Buffer | null> = RAW,
): ReadShape<R | Buffer | null> | undefined {
  if (!(client instanceof Redis) && !(client instanceof Cluster)) return undefined;
  // ioredis prefixes the keys of a command with the client's own `keyPrefix` (a Cluster's, not its nodes').
  const prefix: unknown = (client.options as { keyPrefix?: unknown }).keyPrefix;
  if (prefix !== undefined && typeof prefix !== 'string') return undefined;
  return {
    end,
    deadlines: new ReadDeadlines(),
    options:
      prefix === '' || prefix === undefined ? { replyEncoding: null } : { replyEncoding: null, keyPrefix: prefix },
    head: end === undefined ? '*2\r\n$3\r\nget\r\n$' : '*4\r\n$8\r\ngetrange\r\n$',
    tail: end === undefined ? '\r\n' : `\r\n$1\r\n0\r\n$${end.length}\r\n${end}\r\n`,
    received,
  };
}
