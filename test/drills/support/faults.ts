/**
 * Shared helpers of the fault drills (test/drills/01…05, 12, 20): booting an app with a log collector, timing calls
 * with the loader's own time taken out, watching the real process for escaped errors, event-loop lag, INFO/MONITOR
 * on the spawned redis-server, and a small reporter of measured figures (.tmp/drills/<drill>.json + one stdout line).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { DynamicModule, INestApplication, LoggerService, Type } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { CacheModule } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import type {
  CacheOperation,
  CacheOutcome,
  CacheRecorder,
  CacheTier,
} from '../../../libs/cache/src/observability/cache-recorder.js';
import type { RedisServer } from '../../harness/redis-server.js';

/** The command timeout every drill runs with (the library default is 250 ms). */
export const COMMAND_TIMEOUT_MS = 200;
/**
 * Scheduling slack allowed on top of a timeout (timers, GC, Jest, other processes on a loaded 2-core machine). Under
 * one more command timeout: a bound of timeout + slack still fails when two timeouts stack, and not on a busy box.
 * The tight figures (p99, max) go to the drill reports.
 */
export const SLACK_MS = 150;

// ---------------------------------------------------------------------------------------------------------------
// Escapes: unhandledRejection / uncaughtException on the real process.

/** The real `process`: Jest hands test code a copy whose 'unhandledRejection' listeners never fire. */
export const realProcess = vm.runInThisContext('process') as NodeJS.Process;

/** Collects unhandled rejections and uncaught exceptions of the real process until `stop()`. */
export function watchEscapes(): { readonly escaped: string[]; stop(): void } {
  const escaped: string[] = [];
  const onRejection = (reason: unknown): void => void escaped.push(`unhandledRejection: ${describeError(reason)}`);
  const onException = (err: Error): void => void escaped.push(`uncaughtException: ${describeError(err)}`);
  realProcess.on('unhandledRejection', onRejection);
  realProcess.on('uncaughtException', onException);
  return {
    escaped,
    stop: () => {
      realProcess.off('unhandledRejection', onRejection);
      realProcess.off('uncaughtException', onException);
    },
  };
}

function describeError(err: unknown): string {
  return err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err);
}

// ---------------------------------------------------------------------------------------------------------------
// Logs.

/** Keeps every line Nest's Logger receives (all levels, debug included). */
export class CollectingLogger implements LoggerService {
  readonly lines: { level: string; text: string }[] = [];

  /** Every line as one text (for "the password appears nowhere" checks). */
  get text(): string {
    return this.lines.map((l) => `${l.level} ${l.text}`).join('\n');
  }

  /** Lines of one level matching `pattern`. */
  matching(pattern: RegExp, level?: string): string[] {
    return this.lines
      .filter((l) => (level === undefined || l.level === level) && pattern.test(l.text))
      .map((l) => l.text);
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.add('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.add('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.add('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.add('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.add('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.add('fatal', message, rest);
  }

  private add(level: string, message: unknown, rest: unknown[]): void {
    const text = [message, ...rest]
      .map((part) =>
        part instanceof Error ? describeError(part) : typeof part === 'string' ? part : JSON.stringify(part),
      )
      .join(' ');
    this.lines.push({ level, text });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Booting.

/** What a drill app mounts besides the global CacheModule. */
export interface DrillAppOptions {
  providers?: Type[];
  controllers?: Type[];
  imports?: (DynamicModule | Type | Promise<DynamicModule>)[];
  /** Receives every Nest log line of the app (boot included). @default none (silent) */
  logger?: LoggerService;
}

/** Boots a Nest application (HTTP-capable, not listening) with `CacheModule.forRoot({ ...cache, isGlobal: true })`. */
export async function bootApp(cache: CacheModuleOptions, options: DrillAppOptions = {}): Promise<INestApplication> {
  const builder = Test.createTestingModule({
    imports: [
      EventEmitterModule.forRoot(),
      CacheModule.forRoot({ commandTimeout: COMMAND_TIMEOUT_MS, ...cache, isGlobal: true }),
      ...(options.imports ?? []),
    ],
    controllers: options.controllers ?? [],
    providers: options.providers ?? [],
  });
  if (options.logger) builder.setLogger(options.logger);
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication({ logger: options.logger ?? false });
  await app.init();
  return app;
}

/** A recorder that counts every (operation, outcome) the cache reports; add it with `engineOf(app).telemetry.addRecorder()`. */
export class CountingRecorder implements CacheRecorder {
  readonly counts = new Map<string, number>();

  record(namespace: string, tier: CacheTier, operation: CacheOperation, outcome: CacheOutcome): void {
    const key = `${namespace}/${tier}/${operation}/${outcome}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** Sum of the counts whose `namespace/tier/operation/outcome` matches the pattern (`*` = any part). */
  count(pattern: string): number {
    const want = pattern.split('/');
    let sum = 0;
    for (const [key, n] of this.counts) {
      const parts = key.split('/');
      if (want.every((w, i) => w === '*' || w === parts[i])) sum += n;
    }
    return sum;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Timing.

const loaderClock = new AsyncLocalStorage<{ loaderMs: number }>();

/** Runs a loader body and credits its time to the call timed by {@link timed} (its async context). */
export async function loaderSection<T>(body: () => T | Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await body();
  } finally {
    const record = loaderClock.getStore();
    if (record) record.loaderMs += performance.now() - started;
  }
}

/** One timed call: total time, the loader's share, the cache's share (total − loader), and its value or error. */
export interface TimedCall<T> {
  ms: number;
  loaderMs: number;
  cacheMs: number;
  value?: T;
  error?: unknown;
}

/** Times `call`; never throws (an error is returned, so a drill can count errors surfaced). */
export async function timed<T>(call: () => Promise<T>): Promise<TimedCall<T>> {
  const record = { loaderMs: 0 };
  const started = performance.now();
  try {
    const value = await loaderClock.run(record, call);
    const ms = performance.now() - started;
    return { ms, loaderMs: record.loaderMs, cacheMs: ms - record.loaderMs, value };
  } catch (error) {
    const ms = performance.now() - started;
    return { ms, loaderMs: record.loaderMs, cacheMs: ms - record.loaderMs, error };
  }
}

/** Percentile (nearest rank) of `values`; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)] ?? NaN;
}

/** n, median, p99 and max of a sample, rounded to µs. */
export function summary(values: readonly number[]): { n: number; median: number; p99: number; max: number } {
  return {
    n: values.length,
    median: round(percentile(values, 0.5), 3),
    p99: round(percentile(values, 0.99), 3),
    max: round(maxOf(values), 3),
  };
}

/** The largest value (-Infinity when empty); unlike Math.max(...values), fine with millions of values. */
export function maxOf(values: readonly number[]): number {
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  return max;
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/**
 * Starts an event-loop delay histogram; `stop()` returns the lag (max, p99, mean in ms). The histogram samples the
 * interval between two timer ticks, so the sampling interval itself is taken out.
 */
export function watchLoopLag(resolutionMs = 5): { stop(): { maxMs: number; p99Ms: number; meanMs: number } } {
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  const lag = (ns: number): number => round(Math.max(0, ns / 1e6 - resolutionMs), 2);
  return {
    stop: () => {
      histogram.disable();
      return { maxMs: lag(histogram.max), p99Ms: lag(histogram.percentile(99)), meanMs: lag(histogram.mean) };
    },
  };
}

/** A full GC when the runtime lets us expose it (it does in Node via v8 flags); undefined otherwise. */
export const gc: (() => void) | undefined = (() => {
  try {
    v8.setFlagsFromString('--expose-gc');
    const fn = vm.runInNewContext('gc') as unknown;
    return typeof fn === 'function' ? (fn as () => void) : undefined;
  } catch {
    return undefined;
  }
})();

/** RSS after a GC (when available), in MB. */
export function rssMb(): number {
  gc?.();
  return process.memoryUsage().rss / 1024 / 1024;
}

/** Runs `lanes` concurrent loops of `step(lane, i)` until `until()`; each step yields to the event loop first. */
export async function loadLoop(
  lanes: number,
  until: () => boolean,
  step: (lane: number, i: number) => Promise<void>,
): Promise<number> {
  let steps = 0;
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      for (let i = 0; !until(); i++) {
        // A failing Redis answers at once: yield so timers, sockets (and the fault itself) get their turn.
        await new Promise<void>((resolve) => setImmediate(resolve));
        await step(lane, i);
        steps++;
      }
    }),
  );
  return steps;
}

// ---------------------------------------------------------------------------------------------------------------
// Redis observation.

/** Parses INFO text into field → value. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) out[line.slice(0, at)] = line.slice(at + 1);
  }
  return out;
}

/** INFO `section` of the server (authenticating with `password` when given). */
export async function info(server: RedisServer, section: string, password?: string): Promise<Record<string, string>> {
  const text = await server.commandWith(password === undefined ? {} : { password }, 'INFO', section);
  return parseInfo(String(text));
}

/** One command as MONITOR reports it: when, its arguments, and where it came from ('lua' for a script's calls). */
export interface MonitoredCommand {
  at: number;
  args: string[];
  source: string;
}

/** MONITOR on its own connection, straight to the server: what Redis actually executes, scripts' calls included. */
export async function startMonitor(
  port: number,
  password?: string,
): Promise<{ commands: MonitoredCommand[]; stop(): Promise<void> }> {
  const commands: MonitoredCommand[] = [];
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    ...(password ? { password } : {}),
  });
  client.on('error', () => undefined);
  await client.connect();
  const monitor = await client.monitor();
  monitor.on('error', () => undefined);
  monitor.on('monitor', (time: string, args: string[], source: string) => {
    commands.push({ at: Number(time) * 1000, args, source });
  });
  return {
    commands,
    stop: async () => {
      monitor.disconnect();
      client.disconnect();
    },
  };
}

/** A plain admin connection (for SCAN/DUMP snapshots and raw reads). */
export async function adminClient(port: number, password?: string): Promise<Redis> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    ...(password ? { password } : {}),
  });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

// ---------------------------------------------------------------------------------------------------------------
// Reporting.

type Figure = number | string | boolean | null;

/**
 * Measured figures of one drill: one JSON line per scenario in `.tmp/drills/<drill>.json` (rewritten on every add,
 * so the file holds this run only) and a one-line summary on stdout.
 */
export class DrillReporter {
  private readonly rows: Record<string, Figure>[] = [];
  private readonly file: string;

  constructor(readonly drill: string) {
    const dir = join(process.cwd(), '.tmp', 'drills');
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, `${drill}.json`);
    writeFileSync(this.file, '');
  }

  add(scenario: string, figures: Record<string, Figure>): void {
    this.rows.push({ drill: this.drill, scenario, ...figures });
    writeFileSync(this.file, this.rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const line = Object.entries(figures)
      .map(([k, v]) => `${k}=${typeof v === 'number' ? String(round(v, 3)) : String(v)}`)
      .join(' ');
    process.stdout.write(`[drill ${this.drill}] ${scenario}: ${line}\n`);
  }
}
