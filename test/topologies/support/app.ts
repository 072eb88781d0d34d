import vm from 'node:vm';
import type { INestApplicationContext, LoggerService, Type } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import { CacheModule, CacheService } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { engineOf } from '../../support/cache-internals.js';
import type { CacheEngine } from '../../support/cache-internals.js';

/** Keeps every line Nest's Logger receives, so a test can show (or assert on) what the cache logged. */
export class CollectingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown): void {
    this.push('log', message);
  }
  error(message: unknown): void {
    this.push('error', message);
  }
  warn(message: unknown): void {
    this.push('warn', message);
  }
  debug(message: unknown): void {
    this.push('debug', message);
  }
  verbose(message: unknown): void {
    this.push('verbose', message);
  }
  /** Lines matching a pattern. */
  grep(pattern: RegExp): string[] {
    return this.lines.filter((l) => pattern.test(l));
  }
  private push(level: string, message: unknown): void {
    this.lines.push(`${level} ${String(message)}`);
  }
}

/** One booted application context with the cache. */
export interface Instance<T> {
  app: INestApplicationContext;
  service: T;
  cache: CacheService;
  engine: CacheEngine;
  logger: CollectingLogger;
}

/** Boots a Nest application context with the cache module (global) and one provider, logging into a collector. */
export async function boot<T>(options: CacheModuleOptions, provider: Type<T>): Promise<Instance<T>> {
  const moduleRef = await Test.createTestingModule({
    imports: [EventEmitterModule.forRoot(), CacheModule.forRoot({ ...options, isGlobal: true })],
    providers: [provider],
  }).compile();
  const logger = new CollectingLogger();
  const app = moduleRef.createNestApplication({ logger });
  await app.init();
  return {
    app,
    service: app.get(provider),
    cache: app.get(CacheService),
    engine: engineOf(app),
    logger,
  };
}

/** Cache errors and timeouts counted by `stats()`, over every namespace. */
export function cacheErrors(cache: CacheService): number {
  return Object.values(cache.stats().namespaces).reduce((sum, s) => sum + s.errors, 0);
}

/** The real `process`: Jest hands test code a copy whose 'unhandledRejection' listeners never fire. */
const realProcess = vm.runInThisContext('process') as NodeJS.Process;

/** Collects unhandled rejections and uncaught exceptions of the real process until `stop()`. */
export function watchEscapes(): { readonly escaped: string[]; stop(): void } {
  const escaped: string[] = [];
  const onRejection = (reason: unknown): void =>
    void escaped.push(`unhandledRejection: ${String((reason as Error)?.stack ?? reason)}`);
  const onException = (err: Error): void => void escaped.push(`uncaughtException: ${String(err?.stack ?? err)}`);
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

/** Percentile of a list of numbers (nearest rank). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
