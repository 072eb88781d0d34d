import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import type { DynamicModule } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { CacheModule } from 'nestjs-tiercache';
import type { CacheModuleOptions } from 'nestjs-tiercache';
import { Clock } from './clock/clock.js';
import { ClockModule } from './clock/clock.module.js';
import { BotConfig } from './config/bot-config.js';
import { BotConfigModule } from './config/bot-config.module.js';
import { validateEnv } from './config/env.validation.js';
import { AuthModule } from './auth/auth.module.js';
import { DatabaseModule } from './database/database.module.js';
import { SafeExceptionFilter } from './errors/safe-exception.filter.js';
import { FILE_CACHE_MAX_BYTES, SUMMARY_NAMESPACE } from './files/files.service.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { PaymentsModule } from './payments/payments.module.js';
import { STATS_NAMESPACE } from './stats/stats.service.js';
import { TelegramModule } from './telegram/telegram.module.js';
import { UsersModule } from './users/users.module.js';

/** Bytes the cache's entry envelope adds to a value (header + kind byte), so a 20 MiB file still fits. */
const ENVELOPE_BYTES = 64;

/** Options of {@link AppModule.forRoot}. */
export interface AppModuleOptions {
  /** Environment to configure from instead of process.env and .env (tests, the bench). */
  env?: Record<string, string | undefined>;
  /** The clock /stats reads "today" from. @default the system clock */
  clock?: Clock;
}

/** The cache settings of the bot, from its config. */
export function cacheOptions(config: BotConfig): CacheModuleOptions {
  return {
    enabled: config.cacheEnabled,
    ...(config.redisUrl ? { redis: config.redisUrl } : {}),
    prefix: config.cachePrefix,
    deployId: config.deployId,
    defaultTtl: config.cacheTtl,
    commandTimeout: config.cacheCommandTimeout,
    namespaces: {
      user: { ttl: config.cacheTtl },
      thread: { ttl: config.cacheTtl },
      messages: { ttl: config.cacheTtl },
      // Files up to 20 MiB are cached; a bigger one is refused by the cache (counted) and fetched again next time.
      file: { ttl: config.cacheTtl, maxValueBytes: FILE_CACHE_MAX_BYTES + ENVELOPE_BYTES },
      // What the responder needs of a file too large for `file`: its summary, so it is downloaded once, not per message.
      [SUMMARY_NAMESPACE]: { ttl: '24h' },
      // The model catalogue (price list), warmed once per deploy.
      catalogue: { ttl: config.cacheTtl },
      // The responder's answers, keyed by the normalized question and settings (model, language), see ResponseCache.
      response: { ttl: '24h' },
      // Daily stats, until the user's midnight (TTL per entry); Redis only, so a payment on another instance is
      // never answered from a stale in-process copy.
      [STATS_NAMESPACE]: { ttl: '24h', memory: false },
    },
    // The in-process tier (in front of Redis, or alone without it) is bounded by bytes too, so a few big files
    // evict each other rather than every user.
    memory: { maxEntries: config.cacheMemoryMaxEntries, maxBytes: 256 * 1024 * 1024 },
  };
}

/**
 * The bot. Configured from the environment (validated at boot: a bad variable stops it with a message naming
 * the variable), or from `options.env`.
 * @example NestFactory.create(AppModule.forRoot())
 */
@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions = {}): DynamicModule {
    const source = options.env;
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          cache: true,
          ...(source ? { ignoreEnvFile: true, ignoreEnvVars: true } : {}),
          load: [() => ({ bot: validateEnv(source ?? process.env) })],
        }),
        BotConfigModule,
        ClockModule.forRoot(options.clock),
        EventEmitterModule.forRoot(),
        CacheModule.forRootAsync({ isGlobal: true, inject: [BotConfig], useFactory: cacheOptions }),
        MetricsModule,
        AuthModule,
        DatabaseModule,
        UsersModule,
        PaymentsModule,
        TelegramModule,
        HealthModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: SafeExceptionFilter }],
    };
  }
}
