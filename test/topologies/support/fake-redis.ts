import { createServer, type Server, type Socket } from 'node:net';

/** A command a {@link FakeRedis} received, and the connection it came on (0, 1, …). */
export interface FakeCommand {
  connection: number;
  args: string[];
}

/** What to do with one command: a raw RESP reply, and whether to close the connection right after writing it. */
export interface FakeReply {
  reply: string;
  thenClose?: boolean;
}

/**
 * A tiny RESP2 server on loopback for connection-level edge cases a real redis-server cannot produce on demand —
 * e.g. a reply followed at once by FIN (what a `CLIENT KILL` racing a reconnect handshake looks like to the client).
 * `handler` answers each command (default replies cover the ioredis handshake and SUBSCRIBE).
 * @example const fake = await FakeRedis.start((cmd) => cmd.args[0] === 'INFO' && cmd.connection === 1 ? { reply: info, thenClose: true } : undefined);
 */
export class FakeRedis {
  readonly commands: FakeCommand[] = [];
  private readonly sockets = new Set<Socket>();
  private connections = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly handler: (cmd: FakeCommand) => FakeReply | undefined,
  ) {
    server.on('connection', (socket) => this.accept(socket));
  }

  static async start(handler: (cmd: FakeCommand) => FakeReply | undefined = () => undefined): Promise<FakeRedis> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('FakeRedis: no port');
    return new FakeRedis(server, address.port, handler);
  }

  /** The RESP reply of a plain master's INFO (enough for ioredis's ready check). */
  static readonly INFO = bulk(
    '# Server\r\nredis_version:7.0.15\r\n# Persistence\r\nloading:0\r\n# Replication\r\nrole:master\r\n',
  );

  /** Resets every open connection (like `CLIENT KILL`). */
  killAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    this.killAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    const connection = this.connections++;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const parsed = parseCommand(buffer);
        if (!parsed) return;
        buffer = buffer.subarray(parsed.length);
        const cmd = { connection, args: parsed.args };
        this.commands.push(cmd);
        const answer = this.handler(cmd) ?? { reply: defaultReply(parsed.args) };
        socket.write(answer.reply);
        if (answer.thenClose) {
          socket.end();
          return;
        }
      }
    });
  }
}

function bulk(text: string): string {
  return `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
}

function defaultReply(args: string[]): string {
  const name = (args[0] ?? '').toUpperCase();
  if (name === 'INFO') return FakeRedis.INFO;
  if (name === 'PING') return '+PONG\r\n';
  if (name === 'SUBSCRIBE')
    return args
      .slice(1)
      .map((ch, i) => `*3\r\n${bulk('subscribe')}${bulk(ch)}:${i + 1}\r\n`)
      .join('');
  if (name === 'CLIENT' || name === 'SELECT') return '+OK\r\n';
  return `-ERR unknown command '${args[0] ?? ''}'\r\n`;
}

/** Parses one RESP array of bulk strings (or an inline command) from the start of `buf`. */
function parseCommand(buf: Buffer): { args: string[]; length: number } | undefined {
  if (buf.length === 0) return undefined;
  if (buf[0] !== 0x2a) {
    const end = buf.indexOf('\r\n');
    return end < 0 ? undefined : { args: buf.subarray(0, end).toString().split(' '), length: end + 2 };
  }
  let pos = buf.indexOf('\r\n');
  if (pos < 0) return undefined;
  const count = Number(buf.subarray(1, pos).toString());
  pos += 2;
  const args: string[] = [];
  for (let i = 0; i < count; i++) {
    const lineEnd = buf.indexOf('\r\n', pos);
    if (lineEnd < 0) return undefined;
    const len = Number(buf.subarray(pos + 1, lineEnd).toString());
    const start = lineEnd + 2;
    if (buf.length < start + len + 2) return undefined;
    args.push(buf.subarray(start, start + len).toString());
    pos = start + len + 2;
  }
  return { args, length: pos };
}
