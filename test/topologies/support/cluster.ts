import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../harness/free-port.js';
import { RedisServer } from '../../harness/redis-server.js';
import { waitFor } from '../../harness/wait-for.js';

const run = promisify(execFile);

/** Certificate files for a TLS cluster (see {@link makeTestCertificates}). */
export interface ClusterTlsFiles {
  cert: string;
  key: string;
  ca: string;
}

/** Options of {@link LocalCluster.start}. */
export interface LocalClusterOptions {
  /** Masters. @default 3 */
  masters?: number;
  /** Replicas per master (`--cluster-replicas`). @default 0 */
  replicas?: number;
  /**
   * TLS: every node also listens on a TLS port ({@link LocalCluster.tlsPorts}) and the cluster bus runs TLS
   * (`tls-cluster yes`); a TLS client gets the TLS ports in CLUSTER SLOTS, a plain one (the harness) the plain ports.
   */
  tls?: ClusterTlsFiles;
  /** `requirepass` and `masterauth` on every node (the harness's commands authenticate). */
  password?: string;
  /** `cluster-node-timeout`. @default 2000 */
  nodeTimeoutMs?: number;
  /** Extra redis-server arguments for every node. @default [] */
  args?: string[];
}

/** One slot range and the port of the master that owns it (from CLUSTER SLOTS). */
export interface SlotRange {
  from: number;
  to: number;
  port: number;
}

/** A node's role and, for a replica, the port of its master (from CLUSTER NODES). */
export interface NodeRole {
  port: number;
  role: 'master' | 'replica';
  masterPort?: number;
  failed: boolean;
}

/**
 * A local Redis Cluster of N masters (and optionally R replicas each) on loopback: one {@link RedisServer} per node with the cluster
 * flags (its own bus port via `--cluster-port`, so port + 10000 need not be free), joined by `redis-cli --cluster
 * create`. Nodes keep their `nodes.conf` in the cluster's temp dir, so a node killed and {@link RedisServer.restart}ed
 * rejoins with its slots. {@link stop} kills every node and removes the temp dirs.
 * @example
 * const cluster = await LocalCluster.start();
 * const app = await bootCache({ redis: { cluster: { nodes: cluster.seeds } } });
 * await cluster.stop();
 */
export class LocalCluster {
  private constructor(
    /** The nodes, in the order given to `--cluster create` (master i owns the i-th third of the slots). */
    readonly nodes: RedisServer[],
    private readonly dir: string,
    /** The TLS port of each node (same order as {@link nodes}); empty without `tls`. */
    readonly tlsPorts: number[] = [],
  ) {}

  /** Seed nodes for `redis: { cluster: { nodes } }` (the TLS ports on a TLS cluster). */
  get seeds(): { host: string; port: number }[] {
    return this.nodes.map((n, i) => ({ host: n.host, port: this.tlsPorts[i] ?? n.port }));
  }

  /** Starts the nodes, creates the cluster and waits until every node reports `cluster_state:ok` (about 1–3 s). */
  static async start(options: LocalClusterOptions = {}): Promise<LocalCluster> {
    const masters = options.masters ?? 3;
    const replicas = options.replicas ?? 0;
    const nodeTimeout = options.nodeTimeoutMs ?? 2_000;
    const dir = await mkdtemp(join(tmpdir(), 'tiercache-cluster-'));
    const nodes: RedisServer[] = [];
    const tlsPorts: number[] = [];
    const cluster = new LocalCluster(nodes, dir, tlsPorts);
    const tls = options.tls;
    try {
      for (let i = 0; i < masters * (1 + replicas); i++) {
        const busPort = await freePort();
        const tlsArgs: string[] = [];
        if (tls) {
          const tlsPort = await freePort();
          tlsPorts.push(tlsPort);
          tlsArgs.push('--tls-port', String(tlsPort), '--tls-cluster', 'yes', '--tls-replication', 'yes');
          tlsArgs.push('--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca);
          tlsArgs.push('--tls-auth-clients', 'no');
        }
        nodes.push(
          await RedisServer.start({
            ...(options.password ? { password: options.password } : {}),
            args: [
              ...(options.password ? ['--masterauth', options.password] : []),
              '--cluster-enabled',
              'yes',
              '--cluster-config-file',
              join(dir, `nodes-${i}.conf`),
              '--cluster-node-timeout',
              String(nodeTimeout),
              '--cluster-port',
              String(busPort),
              // Redis 7 waits 5 s (repl-diskless-sync-delay) for more replicas before a full sync: not here.
              '--repl-diskless-sync-delay',
              '0',
              ...tlsArgs,
              ...(options.args ?? []),
            ],
          }),
        );
      }
      await run(
        'redis-cli',
        [
          ...(options.password ? ['--no-auth-warning', '-a', options.password] : []),
          '--cluster',
          'create',
          ...nodes.map((n) => `${n.host}:${n.port}`),
          '--cluster-replicas',
          String(replicas),
          '--cluster-yes',
        ],
        { timeout: 20_000 },
      );
      await cluster.waitForState('ok', 15_000);
      if (replicas > 0) await cluster.waitForReplicas(masters * replicas, 15_000);
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** `cluster_state` of one node ('ok' or 'fail'). */
  async state(node: RedisServer): Promise<string> {
    const info = String(await node.command('CLUSTER', 'INFO'));
    return /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown';
  }

  /** Waits until every running node reports `cluster_state:<state>`; resolves with the time it took (ms). */
  async waitForState(state: 'ok' | 'fail', timeoutMs = 10_000, among: RedisServer[] = this.nodes): Promise<number> {
    const started = performance.now();
    await waitFor(
      async () => {
        const states = await Promise.all(among.filter((n) => n.isRunning).map((n) => this.state(n)));
        return states.length > 0 && states.every((s) => s === state);
      },
      { timeoutMs, intervalMs: 50, message: `cluster_state:${state} on every node` },
    );
    return performance.now() - started;
  }

  /** Every node's role as the first running node sees it (CLUSTER NODES). */
  async roles(): Promise<NodeRole[]> {
    const node = this.nodes.find((n) => n.isRunning)!;
    const lines = String(await node.command('CLUSTER', 'NODES'))
      .trim()
      .split('\n');
    const parsed = lines.map((line) => {
      const [id, address, flags, masterId] = line.split(' ') as [string, string, string, string];
      return { id, port: Number(/:(\d+)@/.exec(address)?.[1]), flags: flags.split(','), masterId };
    });
    return parsed.map((p) => {
      const master = parsed.find((m) => m.id === p.masterId);
      return {
        port: p.port,
        role: p.flags.includes('master') ? ('master' as const) : ('replica' as const),
        ...(master ? { masterPort: master.port } : {}),
        failed: p.flags.includes('fail') || p.flags.includes('fail?'),
      };
    });
  }

  /** The running masters that own slots. */
  async masters(): Promise<RedisServer[]> {
    const ports = new Set((await this.slots()).map((r) => r.port));
    return this.nodes.filter((n) => n.isRunning && ports.has(n.port));
  }

  /** The replica of a master (its first one). */
  async replicaOf(master: RedisServer): Promise<RedisServer> {
    const role = (await this.roles()).find((r) => r.role === 'replica' && r.masterPort === master.port && !r.failed);
    const node = this.nodes.find((n) => n.port === role?.port);
    if (!node) throw new Error(`no replica of ${master.port}`);
    return node;
  }

  /** Waits until `count` replicas report `master_link_status:up` (replication synced). */
  async waitForReplicas(count: number, timeoutMs = 10_000): Promise<void> {
    await waitFor(
      async () => {
        let up = 0;
        for (const n of this.nodes.filter((x) => x.isRunning)) {
          const info = String(await n.command('INFO', 'replication'));
          if (/^role:slave/m.test(info) && /master_link_status:up/.test(info)) up++;
        }
        return up >= count;
      },
      { timeoutMs, intervalMs: 100, message: `${count} replicas in sync` },
    );
  }

  /** The slot of a key (CLUSTER KEYSLOT). */
  async slotOf(key: string): Promise<number> {
    return Number(await this.nodes[0]!.command('CLUSTER', 'KEYSLOT', key));
  }

  /** The slot map (from the first running node). */
  async slots(): Promise<SlotRange[]> {
    const node = this.nodes.find((n) => n.isRunning)!;
    const reply = (await node.command('CLUSTER', 'SLOTS')) as [
      number,
      number,
      [string, number, ...unknown[]],
      ...unknown[],
    ][];
    return reply.map(([from, to, master]) => ({ from: Number(from), to: Number(to), port: Number(master[1]) }));
  }

  /** The node that owns a key's slot. */
  async nodeOf(key: string): Promise<RedisServer> {
    const slot = await this.slotOf(key);
    const range = (await this.slots()).find((r) => slot >= r.from && slot <= r.to);
    const node = this.nodes.find((n) => n.port === range?.port);
    if (!node) throw new Error(`no node owns slot ${slot} of ${key}`);
    return node;
  }

  /** Kills every node and removes the cluster's temp dir. Idempotent. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Keys of one node matching a pattern (SCAN, never KEYS). */
export async function scanNode(node: RedisServer, match: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = (await node.command('SCAN', cursor, 'MATCH', match, 'COUNT', 1000)) as [string, string[]];
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}
