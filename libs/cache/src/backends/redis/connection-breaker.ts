import type { Logger } from '@nestjs/common';
import type { Cluster } from 'ioredis';
import { LogMessages } from '../../errors/error-messages.js';
import { CircuitBreaker } from '../../resilience/circuit-breaker.js';
import type { CircuitState } from '../../resilience/circuit-breaker.js';
import { clusterSlot } from './cluster-slot.js';
import type { RedisClient } from './redis-client.factory.js';
import { isCluster, redact } from './redis-client.factory.js';

/** The breaker settings (options.breaker). */
export interface ConnectionBreakerSettings {
  threshold: number;
  probeIntervalMs: number;
}

/** What the breaker tells the connection's owner. */
export interface ConnectionBreakerEvents {
  /** Redis answered again after failures (a circuit closed, or a success followed failures too few to open it). */
  onRecovered(): void;
  onWarning(topic: string, message: string): void;
}

/** The circuit of one Cluster master. */
interface NodeCircuit {
  readonly breaker: CircuitBreaker;
  /** The last key of its slots that failed: the probe reads it, so it reaches exactly this master's slots. */
  probeKey: string;
  probing: boolean;
}

type Keys = string | readonly string[];

/**
 * The circuit breaker of one Redis connection. Standalone and Sentinel have one (one connection). On Cluster there is
 * also one per master, chosen by the slot of the keys an operation names (`allow(key)`): a dead or frozen master
 * costs only the calls for its slots while the other masters keep serving; operations without keys (a prefix, tags)
 * use the connection's own. While a circuit is open it is probed in the background once per probe interval — the
 * connection with a PING, a master with an EXISTS of a key of its slots (the node that failed, never just any node);
 * a master that owns no slot any more (its replica took over) is forgotten: its keys now go to the new master. No
 * user call ever pays for a probe.
 * @example if (!breaker.allow(key)) return fallback; try { ...; breaker.success(key); } catch { breaker.failure(key); }
 */
export class ConnectionBreaker extends CircuitBreaker {
  private readonly cluster: Cluster | undefined;
  /** Cluster masters with recent failures (dropped on a success). */
  private readonly nodes = new Map<string, NodeCircuit>();
  private timer: NodeJS.Timeout | undefined;
  private pinging = false;
  private stopped = false;

  constructor(
    private readonly client: RedisClient,
    private readonly settings: ConnectionBreakerSettings,
    private readonly events: ConnectionBreakerEvents,
    private readonly logger: Logger,
  ) {
    super({ threshold: settings.threshold, onRecovered: () => events.onRecovered() });
    this.cluster = isCluster(client) ? client : undefined;
  }

  /** 'open' while the connection's circuit or any master's is open. */
  override get state(): CircuitState {
    if (!super.allow()) return 'open';
    for (const node of this.nodes.values()) if (!node.breaker.allow()) return 'open';
    return 'closed';
  }

  /** Whether an operation on `keys` may be sent now (on Cluster: every master serving them is closed). */
  override allow(keys?: Keys): boolean {
    if (this.cluster === undefined || keys === undefined) return super.allow();
    if (this.nodes.size === 0 && super.allow()) return true;
    if (typeof keys === 'string') return this.allowNode(this.nodeOf(keys));
    return keys.every((key) => this.allowNode(this.nodeOf(key)));
  }

  override success(keys?: Keys): void {
    super.success();
    if (this.cluster === undefined || keys === undefined || this.nodes.size === 0) return;
    for (const key of typeof keys === 'string' ? [keys] : keys) {
      const node = this.nodeOf(key);
      const circuit = node === undefined ? undefined : this.nodes.get(node);
      if (node === undefined || circuit === undefined) continue;
      this.nodes.delete(node);
      circuit.breaker.success();
    }
  }

  override failure(keys?: Keys): void {
    if (this.cluster === undefined || keys === undefined) return this.connectionFailure();
    let list = typeof keys === 'string' ? [keys] : keys;
    // A multi-key operation failed: blame the masters already failing, if any, rather than every master it touched.
    const failing = list.length > 1 ? list.filter((key) => this.nodes.has(this.nodeOf(key) ?? '')) : [];
    if (failing.length > 0) list = failing;
    let counted = false;
    for (const key of list) {
      const node = this.nodeOf(key);
      if (node !== undefined) this.nodeFailure(node, key);
      else if (!counted) {
        // The slot map is not known yet (never connected): the connection's circuit.
        counted = true;
        this.connectionFailure();
      }
    }
  }

  /** Closes every circuit (the connection reported ready again). */
  override reset(): void {
    super.success();
    const circuits = [...this.nodes.values()];
    this.nodes.clear();
    for (const circuit of circuits) circuit.breaker.reset();
  }

  /** Stops probing (the connection is closing). */
  stop(): void {
    this.stopped = true;
    this.stopProbing();
  }

  /** The master ('host:port') that serves a key's slot as the client knows it, undefined before the slot map. */
  private nodeOf(key: string): string | undefined {
    return this.cluster?.slots[clusterSlot(key)]?.[0];
  }

  private allowNode(node: string | undefined): boolean {
    if (node === undefined) return super.allow();
    return this.nodes.get(node)?.breaker.allow() ?? true;
  }

  private connectionFailure(): void {
    const wasClosed = super.allow();
    super.failure();
    if (wasClosed && !super.allow()) {
      this.events.onWarning(
        'breaker',
        LogMessages.breakerOpened(this.settings.threshold, this.settings.probeIntervalMs),
      );
      this.startProbing();
    }
  }

  private nodeFailure(node: string, key: string): void {
    let circuit = this.nodes.get(node);
    if (circuit === undefined) {
      const breaker = new CircuitBreaker(
        { threshold: this.settings.threshold, onRecovered: () => this.events.onRecovered() },
        (state) => {
          if (state !== 'open') return;
          this.events.onWarning(
            `breaker:${node}`,
            LogMessages.nodeBreakerOpened(node, this.settings.threshold, this.settings.probeIntervalMs),
          );
          this.startProbing();
        },
      );
      circuit = { breaker, probeKey: key, probing: false };
      this.nodes.set(node, circuit);
    }
    circuit.probeKey = key;
    circuit.breaker.failure();
  }

  private startProbing(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => this.probe(), this.settings.probeIntervalMs);
    this.timer.unref();
  }

  /** One probe round: the connection's circuit if open, then each open master's. Stops once all are closed. */
  private probe(): void {
    let open = false;
    if (!super.allow()) {
      open = true;
      this.probeConnection();
    }
    const cluster = this.cluster;
    if (cluster !== undefined && this.nodes.size > 0) {
      const owners = new Set<string>();
      for (const nodes of cluster.slots) if (nodes?.[0] !== undefined) owners.add(nodes[0]);
      for (const [node, circuit] of this.nodes) {
        if (circuit.breaker.allow()) continue;
        if (owners.size > 0 && !owners.has(node)) {
          // Failed over: its slots are served by another master now, which has its own circuit.
          this.nodes.delete(node);
          circuit.breaker.reset();
          continue;
        }
        open = true;
        this.probeNode(cluster, node, circuit);
      }
    }
    if (!open) this.stopProbing();
  }

  private stopProbing(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** PING: the connection (standalone, Sentinel), or every master the Cluster client is connected to. */
  private probeConnection(): void {
    const client = this.client;
    if (this.pinging || client.status !== 'ready') return;
    this.pinging = true;
    const masters = this.cluster?.nodes('master');
    const ping = masters ? Promise.all(masters.map((node) => node.ping())) : client.ping();
    ping
      .then(
        () => super.success(),
        (err: unknown) => this.logger.debug(redact(LogMessages.backgroundFailed('breaker probe', err))),
      )
      .finally(() => (this.pinging = false));
  }

  /** EXISTS of a key of the master's slots: answered by that master only (or by its successor, after a MOVED). */
  private probeNode(cluster: Cluster, node: string, circuit: NodeCircuit): void {
    if (circuit.probing) return;
    circuit.probing = true;
    cluster
      .exists(circuit.probeKey)
      .then(
        () => {
          if (this.nodes.get(node) === circuit) this.nodes.delete(node);
          circuit.breaker.success();
        },
        (err: unknown) => {
          this.logger.debug(redact(LogMessages.backgroundFailed(`breaker probe of ${node}`, err)));
          // Its replica may have taken over: learn the slot map again (the next round then forgets this master).
          cluster.refreshSlotsCache();
        },
      )
      .finally(() => (circuit.probing = false));
  }
}
