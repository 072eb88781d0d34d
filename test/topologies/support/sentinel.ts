import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../harness/free-port.js';
import { redisCommand } from '../../harness/redis-command.js';
import { RedisServer } from '../../harness/redis-server.js';
import { TcpProxy } from '../../harness/tcp-proxy.js';
import { waitFor } from '../../harness/wait-for.js';

const HOST = '127.0.0.1';
// Same layered cleanup as RedisServer: this sh SIGKILLs the sentinel (and removes its dir) when our end of its stdin
// pipe closes, i.e. whenever this process dies, even SIGKILLed (Jest's process 'exit' never fires in test code).
const WATCHDOG_SCRIPT = 'read -r _ ; kill -KILL "$1" 2>/dev/null; rm -rf "$2"';

function unref(proc: ChildProcess): void {
  proc.unref();
  for (const stream of [proc.stdin, proc.stdout, proc.stderr]) if (stream instanceof Socket) stream.unref();
}

function alive(proc: ChildProcess | undefined): proc is ChildProcess {
  return proc !== undefined && proc.exitCode === null && proc.signalCode === null;
}

/** One `redis-server <conf> --sentinel` process (RedisServer cannot start it: the config file must come first). */
export class SentinelProcess {
  readonly host = HOST;
  private output = '';

  /** The TLS port (sentinels started with `tls`), else undefined. */
  tlsPort: number | undefined;

  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly child: ChildProcess,
    private readonly watchdog: ChildProcess | undefined,
    private readonly exited: Promise<void>,
  ) {}

  /**
   * Starts a sentinel monitoring `monitor`. `myId` and `known` (the other sentinels and the replica) are written into
   * the config so the sentinels need not discover each other first (hello messages come every 2 s).
   */
  static async start(
    port: number,
    monitor: {
      name: string;
      host: string;
      port: number;
      quorum: number;
      downAfterMs: number;
      failoverTimeoutMs: number;
    },
    known: { myId?: string; sentinels?: { port: number; id: string }[]; replicas?: number[] } = {},
    secure: { tls?: TlsFiles; tlsPort?: number; password?: string } = {},
  ): Promise<SentinelProcess> {
    const dir = await mkdtemp(join(tmpdir(), 'tiercache-sentinel-'));
    const conf = join(dir, 'sentinel.conf');
    await writeFile(
      conf,
      [
        `port ${port}`,
        `bind ${HOST}`,
        `dir ${dir}`,
        'daemonize no',
        `sentinel monitor ${monitor.name} ${monitor.host} ${monitor.port} ${monitor.quorum}`,
        `sentinel down-after-milliseconds ${monitor.name} ${monitor.downAfterMs}`,
        `sentinel failover-timeout ${monitor.name} ${monitor.failoverTimeoutMs}`,
        `sentinel parallel-syncs ${monitor.name} 1`,
        ...(known.myId ? [`sentinel myid ${known.myId}`] : []),
        ...(known.sentinels ?? []).map((s) => `sentinel known-sentinel ${monitor.name} ${HOST} ${s.port} ${s.id}`),
        ...(known.replicas ?? []).map((p) => `sentinel known-replica ${monitor.name} ${HOST} ${p}`),
        ...(secure.password ? [`sentinel auth-pass ${monitor.name} ${secure.password}`] : []),
        ...(secure.tls && secure.tlsPort ? tlsConf(secure.tls, secure.tlsPort) : []),
        '',
      ].join('\n'),
    );
    const child = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => {
      child.once('error', () => resolve());
      child.once('exit', () => resolve());
    });
    const watchdog =
      child.pid === undefined
        ? undefined
        : spawn('sh', ['-c', WATCHDOG_SCRIPT, 'tiercache-sentinel-watchdog', String(child.pid), dir], {
            stdio: ['pipe', 'ignore', 'ignore'],
          });
    watchdog?.once('error', () => undefined);
    unref(child);
    if (watchdog) unref(watchdog);
    const sentinel = new SentinelProcess(port, dir, child, watchdog, exited);
    sentinel.tlsPort = secure.tlsPort;
    const record = (chunk: Buffer): void => {
      sentinel.output = (sentinel.output + chunk.toString('utf8')).slice(-4000);
    };
    child.stdout?.on('data', record);
    child.stderr?.on('data', record);
    void exited.then(() => {
      if (alive(watchdog)) watchdog.kill('SIGKILL');
    });
    try {
      await waitFor(async () => (await sentinel.command('PING')) === 'PONG', {
        timeoutMs: 10_000,
        intervalMs: 15,
        message: `sentinel on ${port}`,
      });
    } catch (error) {
      await sentinel.stop();
      throw new Error(`${(error as Error).message}\n--- sentinel output ---\n${sentinel.output}`, { cause: error });
    }
    return sentinel;
  }

  /** The last few KB of the sentinel's log. */
  get outputTail(): string {
    return this.output;
  }

  command(...args: (string | number)[]): Promise<unknown> {
    return redisCommand(this.port, args, { timeoutMs: 1_000 });
  }

  /** SIGKILLs the sentinel and removes its dir. Idempotent. */
  async stop(): Promise<void> {
    if (alive(this.watchdog)) this.watchdog.kill('SIGKILL');
    if (alive(this.child)) this.child.kill('SIGKILL');
    await this.exited;
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Options of {@link SentinelTopology.start}. */
export interface SentinelTopologyOptions {
  /** @default 'mymaster' */
  name?: string;
  /** @default 3 */
  sentinels?: number;
  /** @default 2 */
  quorum?: number;
  /** @default 1000 */
  downAfterMs?: number;
  /** @default 3000 */
  failoverTimeoutMs?: number;
  /**
   * TLS everywhere: data nodes and sentinels also listen on a TLS port (the plain port stays, for the harness), and
   * replication and the sentinels' links run TLS; {@link SentinelTopology.sentinelNodes} then lists the TLS ports.
   */
  tls?: TlsFiles;
  /** `requirepass` (and `masterauth`) on the data nodes; the sentinels get `auth-pass`. */
  password?: string;
}

/** Certificate files (see makeTestCertificates in ./certificates.ts). */
export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
}

function tlsConf(tls: TlsFiles, port: number): string[] {
  return [
    `tls-port ${port}`,
    `tls-cert-file ${tls.cert}`,
    `tls-key-file ${tls.key}`,
    `tls-ca-cert-file ${tls.ca}`,
    'tls-replication yes',
    'tls-auth-clients no',
  ];
}

/** What {@link SentinelTopology.killPrimaryAndAwaitFailover} measured, in ms from the SIGKILL. */
export interface FailoverTiming {
  /** The first sentinel answered the new address to `SENTINEL get-master-addr-by-name`. */
  firstSentinelMs: number;
  /** Every sentinel answers the new address. */
  allSentinelsMs: number;
  /** The promoted replica reports `role:master`. */
  promotedMs: number;
  /** performance.now() at the SIGKILL. */
  killedAt: number;
}

/**
 * A primary, one replica and N sentinels (quorum 2, down-after 1 s, failover-timeout 3 s by default), all on
 * loopback. {@link killPrimaryAndAwaitFailover} SIGKILLs the current primary and waits for the sentinels to
 * promote the replica. {@link stop} kills every process and removes every temp dir.
 * @example
 * const topo = await SentinelTopology.start();
 * const app = await bootCache({ redis: { sentinels: topo.sentinelNodes, name: topo.name } });
 * const timing = await topo.killPrimaryAndAwaitFailover();
 * await topo.stop();
 */
export class SentinelTopology {
  private proxy: TcpProxy | undefined;

  private constructor(
    readonly name: string,
    /** The data nodes; `primary` / `replica` say which is which right now. */
    readonly servers: RedisServer[],
    readonly sentinels: SentinelProcess[],
    private primaryIndex: number,
    /** Each data node's TLS port (same order as {@link servers}); empty without `tls`. */
    private readonly tlsPorts: number[] = [],
  ) {}

  /** The port clients and sentinels use for a data node: its TLS port on a TLS topology. */
  dataPort(server: RedisServer): number {
    return this.tlsPorts[this.servers.indexOf(server)] ?? server.port;
  }

  get primary(): RedisServer {
    return this.servers[this.primaryIndex]!;
  }

  get replica(): RedisServer {
    return this.servers[1 - this.primaryIndex]!;
  }

  /** For `redis: { sentinels }`. */
  get sentinelNodes(): { host: string; port: number }[] {
    return this.sentinels.map((s) => ({ host: s.host, port: s.tlsPort ?? s.port }));
  }

  static async start(options: SentinelTopologyOptions = {}): Promise<SentinelTopology> {
    const name = options.name ?? 'mymaster';
    const servers: RedisServer[] = [];
    const sentinels: SentinelProcess[] = [];
    const tlsPorts: number[] = [];
    const topo = new SentinelTopology(name, servers, sentinels, 0, tlsPorts);
    const { tls, password } = options;
    try {
      // Redis 7 waits 5 s (repl-diskless-sync-delay) for more replicas before a full sync: not here.
      const fast = ['--repl-diskless-sync-delay', '0', ...(password ? ['--masterauth', password] : [])];
      const secured = async (): Promise<string[]> => {
        if (!tls) return fast;
        const port = await freePort();
        tlsPorts.push(port);
        return [...fast, ...tlsConf(tls, port).flatMap((line) => line.split(' ').map((w, i) => (i ? w : `--${w}`)))];
      };
      const primary = await RedisServer.start({ args: await secured(), ...(password ? { password } : {}) });
      servers.push(primary);
      const replicaArgs = [...(await secured()), '--replicaof', HOST, String(topo.dataPort(primary))];
      servers.push(await RedisServer.start({ args: replicaArgs, ...(password ? { password } : {}) }));
      await topo.waitForReplicaLink();
      const monitor = {
        name,
        host: HOST,
        port: topo.dataPort(primary),
        quorum: options.quorum ?? 2,
        downAfterMs: options.downAfterMs ?? 1_000,
        failoverTimeoutMs: options.failoverTimeoutMs ?? 3_000,
      };
      const count = options.sentinels ?? 3;
      const ports: number[] = [];
      while (ports.length < count * (tls ? 2 : 1)) {
        const port = await freePort();
        if (!ports.includes(port)) ports.push(port);
      }
      const sentinelTlsPorts = tls ? ports.splice(count) : [];
      const ids = ports.map(() => randomBytes(20).toString('hex'));
      // Sentinels announce (hello messages) and know each other by the port they talk on: the TLS one on TLS.
      const peers = ports.map((port, i) => ({ port: sentinelTlsPorts[i] ?? port, id: ids[i]! }));
      sentinels.push(
        ...(await Promise.all(
          ports.map((port, i) =>
            SentinelProcess.start(
              port,
              monitor,
              {
                myId: ids[i]!,
                sentinels: peers.filter((_, j) => j !== i),
                replicas: [topo.dataPort(servers[1]!)],
              },
              { ...(tls ? { tls, tlsPort: sentinelTlsPorts[i]! } : {}), ...(password ? { password } : {}) },
            ),
          ),
        )),
      );
      // A failover needs the sentinels to know each other (hello messages, every 2 s) and the replica.
      await waitFor(
        async () => {
          for (const s of sentinels) {
            const fields = toRecord((await s.command('SENTINEL', 'MASTER', name)) as string[]);
            if (Number(fields['num-other-sentinels']) !== count - 1 || Number(fields['num-slaves']) !== 1) return false;
          }
          return true;
        },
        { timeoutMs: 15_000, intervalMs: 100, message: 'the sentinels to discover each other and the replica' },
      );
      return topo;
    } catch (error) {
      await topo.stop();
      throw error;
    }
  }

  /** The primary's address according to one sentinel. */
  async primaryPortFrom(sentinel: SentinelProcess): Promise<number> {
    const [, port] = (await sentinel.command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name)) as [string, string];
    return Number(port);
  }

  /** Waits until the replica's link to its primary is up. */
  async waitForReplicaLink(timeoutMs = 10_000): Promise<void> {
    await waitFor(async () => /master_link_status:up/.test(String(await this.replica.command('INFO', 'replication'))), {
      timeoutMs,
      intervalMs: 20,
      message: 'the replica to sync with the primary',
    });
  }

  /**
   * Makes the replica replicate through a TCP proxy (partial resync, same primary), so the test can black-hole
   * replication and make writes the primary acknowledged never reach the replica. Sentinel would "fix" the replica's
   * master address after failover-timeout (3 s) once it notices it: use the proxy right away.
   */
  async replicateThroughProxy(): Promise<TcpProxy> {
    this.proxy = await TcpProxy.start(this.primary.port);
    await this.replica.command('REPLICAOF', HOST, this.proxy.port);
    await this.waitForReplicaLink();
    return this.proxy;
  }

  /** The primary's and the replica's replication offsets. */
  async offsets(): Promise<{ primary: number; replica: number }> {
    const offset = async (s: RedisServer): Promise<number> =>
      Number(/master_repl_offset:(\d+)/.exec(String(await s.command('INFO', 'replication')))?.[1]);
    return { primary: await offset(this.primary), replica: await offset(this.replica) };
  }

  /** SIGKILLs the current primary and waits until the sentinels have promoted the replica. */
  async killPrimaryAndAwaitFailover(timeoutMs = 20_000): Promise<FailoverTiming> {
    const old = this.primary;
    const next = this.replica;
    await old.kill();
    const killedAt = performance.now();
    let firstSentinelMs: number | undefined;
    await waitFor(
      async () => {
        const ports = await Promise.all(this.sentinels.map((s) => this.primaryPortFrom(s).catch(() => -1)));
        const switched = ports.filter((p) => p === this.dataPort(next)).length;
        if (switched > 0 && firstSentinelMs === undefined) firstSentinelMs = performance.now() - killedAt;
        return switched === this.sentinels.length;
      },
      { timeoutMs, intervalMs: 20, message: `the sentinels to promote the replica on ${next.port}` },
    );
    const allSentinelsMs = performance.now() - killedAt;
    await waitFor(async () => /^role:master/m.test(String(await next.command('INFO', 'replication'))), {
      timeoutMs: 5_000,
      intervalMs: 20,
      message: 'the promoted replica to report role:master',
    });
    const promotedMs = performance.now() - killedAt;
    this.primaryIndex = 1 - this.primaryIndex;
    await this.proxy?.close();
    this.proxy = undefined;
    return { firstSentinelMs: firstSentinelMs ?? allSentinelsMs, allSentinelsMs, promotedMs, killedAt };
  }

  /** Kills every process and removes every temp dir. Idempotent. */
  async stop(): Promise<void> {
    await this.proxy?.close();
    await Promise.all([...this.sentinels.map((s) => s.stop()), ...this.servers.map((s) => s.stop())]);
  }
}

function toRecord(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}
