import { spawn } from 'node:child_process';
import { Controller, Get } from '@nestjs/common';
import type { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import type { HealthCheckResult } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import request from 'supertest';
import { CacheModule, CacheService } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { CacheHealthIndicator, CacheHealthModule, CacheStatsModule } from 'nestjs-tiercache/health';
import type { CacheHealthOptions, CacheStatsModuleOptions } from 'nestjs-tiercache/health';
import { CacheMetricsModule } from 'nestjs-tiercache/metrics';
import type { CacheMetricsOptions } from 'nestjs-tiercache/metrics';
import { UserRepo } from '../cache/fixtures.js';

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly cache: CacheHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.cache.isHealthy('cache')]);
  }

  @Get('critical')
  @HealthCheck()
  critical(): Promise<HealthCheckResult> {
    return this.health.check([() => this.cache.isHealthy('cache', { critical: true })]);
  }
}

/** What a test app mounts besides CacheModule. */
export interface ObservabilityAppOptions {
  cache: CacheModuleOptions;
  /** CacheMetricsModule options; false to leave it out. @default {} */
  metrics?: CacheMetricsOptions | false;
  /** Mount PrometheusModule (/metrics on the global registry); `defaultMetrics` adds prom-client's process metrics. @default { defaultMetrics: false } */
  prometheus?: { defaultMetrics: boolean } | false;
  /** Mount TerminusModule + CacheHealthModule + GET /health and /health/critical. @default false */
  health?: CacheHealthOptions | false;
  /** Mount CacheStatsModule. @default false */
  stats?: CacheStatsModuleOptions | false;
}

/** A booted HTTP app with the observability modules, and a supertest agent on it. */
export interface ObservabilityApp {
  app: INestApplication;
  cache: CacheService;
  repo: UserRepo;
  http: () => ReturnType<typeof request>;
  close(): Promise<void>;
}

/** Boots a small Nest HTTP app: CacheModule (global) + UserRepo + the requested observability modules. */
export async function bootObservabilityApp(options: ObservabilityAppOptions): Promise<ObservabilityApp> {
  const imports: DynamicModule[] = [
    EventEmitterModule.forRoot(),
    CacheModule.forRoot({ ...options.cache, isGlobal: true }),
  ];
  const controllers: Type[] = [];
  const prometheus = options.prometheus ?? { defaultMetrics: false };
  if (prometheus) imports.push(PrometheusModule.register({ defaultMetrics: { enabled: prometheus.defaultMetrics } }));
  if (options.metrics !== false) imports.push(CacheMetricsModule.forRoot(options.metrics ?? {}));
  if (options.health) {
    imports.push(TerminusModule.forRoot({ logger: false }), CacheHealthModule.forRoot(options.health));
    controllers.push(HealthController);
  }
  if (options.stats) imports.push(CacheStatsModule.register(options.stats));
  const moduleRef = await Test.createTestingModule({ imports, controllers, providers: [UserRepo] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return {
    app,
    cache: app.get(CacheService),
    repo: app.get(UserRepo),
    http: () => request(app.getHttpServer()),
    close: () => app.close(),
  };
}

/** One sample of the text exposition format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition (sample lines only). */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match?.[1] || match[3] === undefined) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      if (pair[1] !== undefined) labels[pair[1]] = pair[2] ?? '';
    }
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of the samples named `name` whose labels include `labels`. */
export function valueOf(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((acc, s) => acc + s.value, 0);
}

/** Runs `promtool <args>` with `input` on stdin; resolves with its exit code and output. */
export function promtool(args: readonly string[], input = ''): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
    child.stdin.end(input);
  });
}
