import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../harness/free-port.js';
import { RedisServer } from '../../harness/redis-server.js';
import { waitFor } from '../../harness/wait-for.js';

const run = promisify(execFile);

/** Options of {@link LocalCluster.start}. */
export interface LocalClusterOptions {
  /** Masters (no replicas). @default 3 */
  masters?: number;
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

/**
 * A local Redis Cluster of N masters and no replicas on loopback: one {@link RedisServer} per node with the cluster
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
  ) {}

  /** Seed nodes for `redis: { cluster: { nodes } }`. */
  get seeds(): { host: string; port: number }[] {
    return this.nodes.map((n) => ({ host: n.host, port: n.port }));
  }

  /** Starts the nodes, creates the cluster and waits until every node reports `cluster_state:ok` (about 1–3 s). */
  static async start(options: LocalClusterOptions = {}): Promise<LocalCluster> {
    const masters = options.masters ?? 3;
    const nodeTimeout = options.nodeTimeoutMs ?? 2_000;
    const dir = await mkdtemp(join(tmpdir(), 'tiercache-cluster-'));
    const nodes: RedisServer[] = [];
    const cluster = new LocalCluster(nodes, dir);
    try {
      for (let i = 0; i < masters; i++) {
        const busPort = await freePort();
        nodes.push(
          await RedisServer.start({
            args: [
              '--cluster-enabled',
              'yes',
              '--cluster-config-file',
              join(dir, `nodes-${i}.conf`),
              '--cluster-node-timeout',
              String(nodeTimeout),
              '--cluster-port',
              String(busPort),
              ...(options.args ?? []),
            ],
          }),
        );
      }
      await run(
        'redis-cli',
        ['--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
        {
          timeout: 20_000,
        },
      );
      await cluster.waitForState('ok', 15_000);
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
