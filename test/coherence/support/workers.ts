import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { OpRecord, Stall } from './history.js';
import type { WorkerConfig } from './coherence-worker.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const REGISTER = fileURLToPath(new URL('../../../bench/register.js', import.meta.url));
const ENTRY = 'test/coherence/support/coherence-worker.ts';
const OUTPUT_TAIL_CHARS = 4000;

const live = new Set<AppWorker>();

/**
 * One app process of the coherence run (an incarnation: a restarted worker is a new AppWorker). Its operation
 * records stream into `sink` as they arrive; everything else is awaited with {@link until}.
 */
export class AppWorker {
  private readonly proc: ChildProcess;
  private output = '';
  private readonly seen = new Set<string>();
  private readonly waiters = new Set<() => void>();
  readonly exited: Promise<void>;

  constructor(
    readonly config: WorkerConfig,
    sink: (ops: OpRecord[], stalls: Stall[], committed?: OpRecord) => void,
  ) {
    // The children run plain Node: Jest's --experimental-vm-modules would only add a warning.
    this.proc = spawn(process.execPath, ['--import', REGISTER, ENTRY, JSON.stringify(config)], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const record = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
    };
    this.proc.stdout?.on('data', record);
    this.proc.stderr?.on('data', record);
    this.proc.on(
      'message',
      (msg: { type: string; ops?: OpRecord[]; stalls?: Stall[]; op?: OpRecord; error?: string }) => {
        if (msg.type === 'ops' && msg.ops) sink(msg.ops, msg.stalls ?? []);
        else if (msg.type === 'commit' && msg.op) sink([], [], msg.op);
        else if (msg.type === 'fatal') record(Buffer.from(`fatal: ${msg.error}\n`));
        this.seen.add(msg.type);
        for (const wake of [...this.waiters]) wake();
      },
    );
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', () => {
        live.delete(this);
        for (const wake of [...this.waiters]) wake();
        resolve();
      });
    });
    live.add(this);
  }

  get name(): string {
    return `worker ${this.config.index}.${this.config.incarnation}`;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  send(cmd: 'go' | 'stop' | 'close'): void {
    if (this.alive && this.proc.connected) this.proc.send({ cmd });
  }

  /** Waits for a message of `type` (ever received), rejecting on exit, 'fatal' or after `timeoutMs`. */
  until(type: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`${this.name}: no "${type}" within ${timeoutMs} ms\n${this.output}`)),
        timeoutMs,
      );
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      const check = (): void => {
        if (this.seen.has(type)) finish();
        else if (this.seen.has('fatal') || !this.alive)
          finish(new Error(`${this.name} ended before "${type}"\n${this.output}`));
      };
      this.waiters.add(check);
      check();
    });
  }

  async kill(): Promise<void> {
    if (this.alive) this.proc.kill('SIGKILL');
    await this.exited;
  }

  /** Stops the clients, takes the last records, closes the app; SIGKILL if it does not end in time. */
  async shutdown(timeoutMs: number): Promise<void> {
    if (!this.alive) return;
    this.send('stop');
    await this.until('stopped', timeoutMs).catch(() => undefined);
    this.send('close');
    const timer = setTimeout(() => void this.kill(), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** SIGKILLs every worker still running (afterAll). */
export async function killWorkers(): Promise<void> {
  await Promise.all([...live].map((w) => w.kill()));
}
