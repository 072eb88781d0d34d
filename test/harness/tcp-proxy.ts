import { connect, createServer, type Server, type Socket } from 'node:net';

/** What the proxy does with bytes right now; see the methods of {@link TcpProxy}. */
export type TcpProxyMode =
  | { readonly kind: 'pass' }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'blackhole' }
  | { readonly kind: 'drop' };

const HOST = '127.0.0.1';

/** One relay direction: keeps chunks in order when they are delayed. */
class Pipe {
  private pending = 0;
  private releaseAt = 0;
  private ended = false;

  constructor(
    private readonly to: Socket,
    private readonly timers: Set<NodeJS.Timeout>,
  ) {}

  push(chunk: Buffer, delayMs: number): void {
    const now = performance.now();
    // Never before an earlier chunk, so changing the delay cannot reorder bytes.
    const due = Math.max(now + delayMs, this.releaseAt);
    this.releaseAt = due;
    if (due <= now && this.pending === 0) {
      this.to.write(chunk);
      return;
    }
    this.pending += 1;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.pending -= 1;
      if (!this.to.destroyed) this.to.write(chunk);
      if (this.ended && this.pending === 0) this.to.end();
    }, due - now);
    this.timers.add(timer);
  }

  end(): void {
    this.ended = true;
    if (this.pending === 0) this.to.end();
  }
}

/** A client connection and its upstream connection. */
class Link {
  /** Set when the black hole ate bytes: the stream can no longer be framed, so restore() resets it. */
  lostBytes = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
    private readonly proxy: TcpProxy,
    private readonly onClose: (link: Link) => void,
  ) {
    this.relay(client, upstream);
    this.relay(upstream, client);
  }

  destroy(reset = false): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const socket of [this.client, this.upstream]) {
      if (socket.destroyed) continue;
      if (reset) socket.resetAndDestroy();
      else socket.destroy();
    }
    this.onClose(this);
  }

  private relay(from: Socket, to: Socket): void {
    const pipe = new Pipe(to, this.timers);
    from.on('data', (chunk: Buffer) => {
      const mode = this.proxy.mode;
      if (mode.kind === 'blackhole') this.lostBytes = true;
      else if (mode.kind === 'drop') this.destroy(true);
      else pipe.push(chunk, mode.kind === 'delay' ? mode.ms : 0);
    });
    from.on('end', () => pipe.end());
    from.on('error', (error) => {
      this.proxy.lastError = error;
      this.destroy();
    });
    from.on('close', () => this.destroy());
  }
}

/**
 * A loopback TCP proxy for fault injection between a client and a server (e.g. ioredis and redis-server).
 * Modes apply to bytes as they arrive, on existing and new connections alike:
 * pass-through, {@link delay} (latency per chunk, each direction), {@link blackhole} (bytes are read and
 * discarded, nothing answers), {@link drop} (connections are reset, new ones too), and {@link restore}.
 *
 * @example
 * const proxy = await TcpProxy.start(redis.port);
 * proxy.blackhole();
 * await expect(redisCommand(proxy.port, ['PING'], { timeoutMs: 200 })).rejects.toThrow();
 * proxy.restore();
 * await proxy.close();
 */
export class TcpProxy {
  /** Always loopback. */
  readonly host = HOST;
  /** The last socket error seen on either side (for diagnostics; errors close the link). */
  lastError: Error | undefined;
  private current: TcpProxyMode = { kind: 'pass' };
  private readonly links = new Set<Link>();

  private constructor(
    private readonly server: Server,
    /** The port clients connect to. */
    readonly port: number,
    /** The port bytes are forwarded to on 127.0.0.1. */
    readonly targetPort: number,
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  /**
   * Listens on a free loopback port and forwards to `127.0.0.1:targetPort`.
   *
   * @example
   * const proxy = await TcpProxy.start(redis.port);
   */
  static async start(targetPort: number): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    if (address === null || typeof address === 'string') {
      server.close();
      throw new Error(`TcpProxy: unexpected listen address ${String(address)}`);
    }
    server.unref();
    return new TcpProxy(server, address.port, targetPort);
  }

  /** The current mode. */
  get mode(): TcpProxyMode {
    return this.current;
  }

  /** Open client connections. */
  get connectionCount(): number {
    return this.links.size;
  }

  /** Delays every chunk by `ms` in each direction (a round trip gains at least 2 × `ms`); order is kept. */
  delay(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`TcpProxy.delay: ms must be >= 0, got ${ms}`);
    this.current = { kind: 'delay', ms };
  }

  /** Reads and discards all bytes in both directions: connects succeed, nothing is ever answered. */
  blackhole(): void {
    this.current = { kind: 'blackhole' };
  }

  /** Resets every open connection and every new one until {@link restore}. */
  drop(): void {
    this.current = { kind: 'drop' };
    for (const link of [...this.links]) link.destroy(true);
  }

  /**
   * Back to pass-through. Connections that lost bytes in the black hole are reset: a real network would have
   * retransmitted them, so their peers must reconnect rather than read misaligned replies.
   */
  restore(): void {
    this.current = { kind: 'pass' };
    for (const link of [...this.links]) if (link.lostBytes) link.destroy(true);
  }

  /** Stops listening and closes every connection. Idempotent. */
  async close(): Promise<void> {
    for (const link of [...this.links]) link.destroy();
    if (!this.server.listening) return;
    await new Promise<void>((resolve, reject) => this.server.close((error) => (error ? reject(error) : resolve())));
  }

  private accept(client: Socket): void {
    if (this.current.kind === 'drop') {
      client.on('error', (error) => {
        this.lastError = error;
      });
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(this.targetPort, HOST);
    const link = new Link(client, upstream, this, (closed) => this.links.delete(closed));
    this.links.add(link);
  }
}
