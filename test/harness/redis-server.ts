import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.js';
import { redisCommand, type RedisCommandOptions } from './redis-command.js';

/** Options of {@link RedisServer.start}. */
export interface RedisServerOptions {
  /** Extra `redis-server` arguments, appended last (so they override the harness's defaults). @default [] */
  args?: string[];
  /** Starts the server with `--requirepass`; {@link RedisServer.command} then authenticates. @default undefined */
  password?: string;
  /** Port to bind on 127.0.0.1. @default a free port */
  port?: number;
}

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 10_000;
const READY_POLL_MS = 15;
const OUTPUT_TAIL_CHARS = 4000;
const WATCHDOG_SCRIPT = 'read -r _ ; kill -KILL "$1" 2>/dev/null; rm -rf "$2"';

/** One spawned redis-server process and the watchdog that kills it if this Node process dies first. */
interface Running {
  readonly child: ChildProcess;
  readonly watchdog: ChildProcess | undefined;
  readonly exited: Promise<void>;
  readonly dir: string;
  frozen: boolean;
}

// Every live process, so a test that forgets stop() or crashes does not orphan redis-server.
const live = new Set<Running>();

function signal(proc: ChildProcess | undefined, name: NodeJS.Signals): void {
  if (proc !== undefined && proc.exitCode === null && proc.signalCode === null) proc.kill(name);
}

function killNow(running: Running): void {
  // The watchdog goes first so it can never fire at a PID the kernel has already reused.
  signal(running.watchdog, 'SIGKILL');
  if (running.frozen) signal(running.child, 'SIGCONT');
  signal(running.child, 'SIGKILL');
  running.frozen = false;
}

// Works in plain Node (bench, child workers). Jest hands test code a copy of `process` whose 'exit' never fires,
// which is why each server also has a watchdog.
process.on('exit', () => {
  for (const running of live) {
    killNow(running);
    rmSync(running.dir, { recursive: true, force: true });
  }
});

function unref(proc: ChildProcess): void {
  proc.unref();
  for (const stream of [proc.stdin, proc.stdout, proc.stderr]) if (stream instanceof Socket) stream.unref();
}

/**
 * A private `redis-server` on 127.0.0.1 for one test suite: no persistence, its own temp dir, a free port, and
 * real fault injection (SIGKILL, SIGSTOP/SIGCONT, restart on the same port).
 *
 * Cleanup is layered: `stop()` in `afterAll`; a `process.on('exit')` hook; and a tiny `sh` watchdog per server
 * that SIGKILLs it when this process's end of a pipe closes, i.e. even when Jest's worker is SIGKILLed. Every
 * handle is unref'd, so a forgotten `stop()` never keeps Jest alive.
 *
 * @example
 * const redis = await RedisServer.start();
 * await redis.command('SET', 'k', 'v');
 * redis.freeze(); // ... assert timeouts ...
 * redis.thaw();
 * await redis.stop();
 */
export class RedisServer {
  /** Always loopback. */
  readonly host = HOST;
  private running: Running | undefined;
  private stopped = false;
  private output = '';

  private constructor(
    /** The TCP port, kept across {@link restart}. */
    readonly port: number,
    /** Password given at start (a later `CONFIG SET requirepass` is not tracked). */
    readonly password: string | undefined,
    private readonly dir: string,
    private readonly args: readonly string[],
  ) {}

  /**
   * Spawns `redis-server` on a free (or the given) loopback port and resolves once it answers PING.
   * Rejects after 10 s, or as soon as the process exits, with the tail of its output.
   *
   * @example
   * const redis = await RedisServer.start({ password: 's3cret', args: ['--maxmemory', '1mb'] });
   */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const port = options.port ?? (await freePort(HOST));
    const dir = await mkdtemp(join(tmpdir(), 'tiercache-redis-'));
    const server = new RedisServer(port, options.password, dir, options.args ?? []);
    try {
      await server.launch();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** `redis://127.0.0.1:<port>` (without the password). */
  get url(): string {
    return `redis://${HOST}:${this.port}`;
  }

  /** PID of the current process, `undefined` while killed. */
  get pid(): number | undefined {
    return this.running?.child.pid;
  }

  /** Whether a process is running (frozen counts as running). */
  get isRunning(): boolean {
    return this.running !== undefined;
  }

  /** Whether the process is stopped with SIGSTOP. */
  get isFrozen(): boolean {
    return this.running?.frozen ?? false;
  }

  /** The last few KB of the server's stdout and stderr, across restarts. */
  get outputTail(): string {
    return this.output;
  }

  /** SIGKILLs the server (thawing it first if frozen). Idempotent; resolves once the process has exited. */
  async kill(): Promise<void> {
    const running = this.running;
    if (running === undefined) return;
    killNow(running);
    await running.exited;
  }

  /** SIGSTOP: the server keeps its socket (connects succeed) but answers nothing until {@link thaw}. */
  freeze(): void {
    const running = this.requireRunning('freeze');
    running.child.kill('SIGSTOP');
    running.frozen = true;
  }

  /** SIGCONT after {@link freeze}; a no-op when not frozen. Commands the kernel buffered meanwhile then execute. */
  thaw(): void {
    const running = this.running;
    if (running === undefined || !running.frozen) return;
    running.child.kill('SIGCONT');
    running.frozen = false;
  }

  /** Kills the server if it runs, starts it again on the same port with the same options, waits until ready. */
  async restart(): Promise<void> {
    if (this.stopped) throw new Error(`RedisServer on port ${this.port} was stopped; start a new one`);
    await this.kill();
    this.output += '\n--- restart ---\n';
    await this.launch();
  }

  /**
   * Runs one command on a short-lived client (2 s budget, password applied), e.g. `DEBUG SLEEP`, `CONFIG SET`,
   * `CLIENT KILL`, or to inspect keys.
   *
   * @example
   * expect(await redis.command('EXISTS', 'app:users:1')).toBe(0);
   */
  command(...args: (string | number)[]): Promise<unknown> {
    return this.commandWith({}, ...args);
  }

  /**
   * {@link command} with its own timeout or password (e.g. after `CONFIG SET requirepass`).
   *
   * @example
   * await expect(redis.commandWith({ timeoutMs: 200 }, 'PING')).rejects.toThrow(/timed out/);
   */
  commandWith(options: Omit<RedisCommandOptions, 'host'>, ...args: (string | number)[]): Promise<unknown> {
    return redisCommand(this.port, args, { password: this.password, ...options, host: HOST });
  }

  /** {@link kill} and remove the temp dir. Idempotent; the instance cannot be restarted afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }

  private requireRunning(action: string): Running {
    if (this.running === undefined) throw new Error(`RedisServer on port ${this.port}: cannot ${action}, not running`);
    return this.running;
  }

  private async launch(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', this.dir];
    args.push('--daemonize', 'no', '--enable-debug-command', 'local');
    if (this.password !== undefined) args.push('--requirepass', this.password);
    args.push(...this.args);

    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let spawnError: Error | undefined;
    const exited = new Promise<void>((resolve) => {
      child.once('error', (error) => {
        spawnError = error;
        resolve();
      });
      child.once('exit', () => resolve());
    });
    const record = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
    };
    child.stdout?.on('data', record);
    child.stderr?.on('data', record);

    // Kills redis-server (and removes its dir) when our end of its stdin pipe closes: on any death of this process.
    const watchdog =
      child.pid === undefined
        ? undefined
        : spawn('sh', ['-c', WATCHDOG_SCRIPT, 'tiercache-redis-watchdog', String(child.pid), this.dir], {
            stdio: ['pipe', 'ignore', 'ignore'],
          });
    watchdog?.once('error', (error) => record(Buffer.from(`watchdog: ${error.message}\n`)));
    unref(child);
    if (watchdog !== undefined) unref(watchdog);

    const running: Running = { child, watchdog, exited, dir: this.dir, frozen: false };
    live.add(running);
    this.running = running;
    void exited.then(() => {
      signal(watchdog, 'SIGKILL');
      live.delete(running);
      if (this.running === running) this.running = undefined;
    });

    await this.waitUntilReady(running, () => spawnError);
  }

  private async waitUntilReady(running: Running, spawnError: () => Error | undefined): Promise<void> {
    const deadline = performance.now() + READY_TIMEOUT_MS;
    let lastError: unknown;
    let exited = false;
    void running.exited.then(() => {
      exited = true;
    });
    while (!exited && performance.now() < deadline) {
      try {
        const reply = await redisCommand(this.port, ['PING'], { password: this.password, timeoutMs: 500 });
        if (reply === 'PONG') return;
        lastError = new Error(`PING answered ${String(reply)}`);
      } catch (error) {
        lastError = error;
      }
      await sleep(READY_POLL_MS);
    }
    const error = spawnError();
    const why =
      error !== undefined
        ? `could not be spawned (${error.message}); is redis-server installed and on PATH?`
        : exited
          ? `exited (code ${String(running.child.exitCode)}, signal ${String(running.child.signalCode)}) before answering PING`
          : `did not answer PING within ${READY_TIMEOUT_MS} ms` +
            (lastError instanceof Error ? ` (last error: ${lastError.message})` : '');
    await this.kill();
    throw new Error(`redis-server on ${HOST}:${this.port} ${why}\n--- output tail ---\n${this.output.trim()}`, {
      cause: error ?? lastError,
    });
  }
}
