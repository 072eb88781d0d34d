import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const REGISTER = fileURLToPath(new URL('../../../bench/register.js', import.meta.url));
const OUTPUT_TAIL_CHARS = 4000;

/** A message a child sent over IPC: always an object with a `type`. */
export interface ChildMessage {
  type: string;
  [field: string]: unknown;
}

/**
 * One child Node process running a TypeScript entry through the bench loader (`node --import ./bench/register.js`),
 * with an IPC channel. Messages are kept in arrival order; {@link next} consumes them with a deadline.
 */
export class ChildNode {
  private readonly inbox: ChildMessage[] = [];
  private readonly waiters = new Set<() => void>();
  private output = '';
  /** Resolves with the exit code or signal once the process has ended. */
  readonly exited: Promise<string>;

  constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
  ) {
    const record = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
    };
    proc.stdout?.on('data', record);
    proc.stderr?.on('data', record);
    proc.on('message', (msg: ChildMessage) => {
      this.inbox.push(msg);
      for (const wake of [...this.waiters]) wake();
    });
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        resolve(signal ?? String(code));
        for (const wake of [...this.waiters]) wake();
      });
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  send(message: object): void {
    this.proc.send(message);
  }

  /** Takes the first unread message of `type` (waiting for it), or rejects after `timeoutMs` with the child's output. */
  next<T extends ChildMessage = ChildMessage>(type: string, timeoutMs = 10_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = (): boolean => {
        const index = this.inbox.findIndex((m) => m.type === type || m.type === 'fatal');
        if (index >= 0) {
          const [msg] = this.inbox.splice(index, 1) as [T];
          done();
          if (msg.type === 'fatal') reject(new Error(`${this.name}: ${String(msg['error'])}\n${this.output}`));
          else resolve(msg);
          return true;
        }
        if (!this.alive) {
          done();
          reject(new Error(`${this.name} exited while waiting for "${type}"\n--- output ---\n${this.output}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: no "${type}" message within ${timeoutMs} ms\n--- output ---\n${this.output}`));
      }, timeoutMs);
      const wake = (): void => void check();
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(wake);
      };
      if (!check()) this.waiters.add(wake);
    });
  }

  /** Sends a signal (SIGKILL by default) and resolves once the process has exited. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.alive) this.proc.kill(signal);
    await this.exited;
  }
}

const children = new Set<ChildNode>();

/**
 * Spawns `node --import ./bench/register.js <entry> <args…>` from the repository root with an IPC channel. The
 * child should exit when the channel closes, so a dying Jest worker takes its children with it.
 * @example const child = spawnTsChild('worker-1', 'test/drills/support/cache-worker.ts', [redis.url]);
 */
export function spawnTsChild(name: string, entry: string, args: readonly string[] = []): ChildNode {
  // The children run plain Node: Jest's --experimental-vm-modules would only add a warning.
  const env = { ...process.env, NODE_OPTIONS: '' };
  const proc = spawn(process.execPath, ['--import', REGISTER, entry, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const child = new ChildNode(name, proc);
  children.add(child);
  void child.exited.then(() => children.delete(child));
  return child;
}

/** SIGKILLs every child spawned by {@link spawnTsChild} that is still running (afterAll). */
export async function killChildren(): Promise<void> {
  await Promise.all([...children].map((child) => child.kill('SIGKILL')));
}

/**
 * Writes a drill's measured figures as one JSON line to `.tmp/drills/<drill>.json` and prints a one-line summary.
 * @example reportDrill('13', { loaderCalls: 1 }, 'stampede: 1 loader call for 3000 callers');
 */
export function reportDrill(drill: string, figures: Record<string, unknown>, summary: string): void {
  const dir = `${ROOT}.tmp/drills`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/${drill}.json`, `${JSON.stringify({ drill, at: new Date().toISOString(), ...figures })}\n`);
  process.stdout.write(`drill ${drill}: ${summary}\n`);
}
