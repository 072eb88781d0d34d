import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../harness/free-port.js';
import { waitFor } from '../../harness/wait-for.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const OUTPUT_TAIL = 8_000;

/** A webhook or HTTP answer from a bot process; `status` 0 when the connection failed (the process died). */
export interface ProcessReply {
  status: number;
  body: Record<string, unknown> | undefined;
}

/**
 * The real bot (`apps/bot/src/main.ts`) as a child process on a free loopback port, configured only by `env`
 * (started in an empty working directory, so no .env is read). Several of them make the multi-instance e2e.
 * @example const bot = await BotProcess.start({ DATABASE_URL, REDIS_URL, TELEGRAM_SECRET_TOKEN }); await bot.kill();
 */
export class BotProcess {
  private output = '';
  private readonly exited: Promise<void>;

  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {
    const record = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
    };
    child.stdout?.on('data', record);
    child.stderr?.on('data', record);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** Spawns the bot and resolves once GET /health answers 200 (boot includes the migrations). */
  static async start(env: Record<string, string>, timeoutMs = 90_000): Promise<BotProcess> {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), 'bot-process-'));
    const child = spawn(
      process.execPath,
      ['--import', join(ROOT, 'test/bot/support/process/register.js'), join(ROOT, 'apps/bot/src/main.ts')],
      {
        cwd: dir,
        env: {
          PATH: process.env['PATH'] ?? '',
          // Where the loader finds the library (see bench/ts-hooks.js), when the test run points it elsewhere.
          ...(process.env['BOT_TEST_LIBRARY_SRC'] ? { BOT_TEST_LIBRARY_SRC: process.env['BOT_TEST_LIBRARY_SRC'] } : {}),
          HOST: '127.0.0.1',
          PORT: String(port),
          LOG_LEVEL: 'warn',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const bot = new BotProcess(`http://127.0.0.1:${port}`, child, dir);
    try {
      await waitFor(
        async () => {
          if (!bot.alive) throw new Error(`bot exited with code ${child.exitCode}: ${bot.output}`);
          return (await fetch(`${bot.url}/health`)).status === 200;
        },
        { timeoutMs, intervalMs: 100, message: `bot on port ${port} to be healthy` },
      );
    } catch (err) {
      await bot.kill();
      throw new Error(`${(err as Error).message}\n--- bot output ---\n${bot.output}`, { cause: err });
    }
    return bot;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What the process printed last (for failure messages). */
  get outputTail(): string {
    return this.output;
  }

  /** One HTTP request; a failed connection (a dead process) is `status: 0`, never a throw. */
  async request(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<ProcessReply> {
    try {
      const res = await fetch(`${this.url}${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>) };
    } catch (err) {
      // fetch rejects with a TypeError (of Node's realm, not Jest's: compared by name) when the connection fails.
      if ((err as Error).name === 'TypeError') return { status: 0, body: undefined };
      throw err;
    }
  }

  /** The counters of /metrics whose names start with `prefix`, by series. */
  async metrics(prefix = 'bot_'): Promise<Map<string, number>> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    const out = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (!line.startsWith(prefix)) continue;
      const at = line.lastIndexOf(' ');
      out.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
    return out;
  }

  /** SIGKILL (idempotent); resolves once the process is gone. */
  async kill(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
    await rm(this.dir, { recursive: true, force: true });
  }
}
