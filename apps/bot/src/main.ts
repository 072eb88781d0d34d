import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { BotConfig } from './config/bot-config.js';
import { validateEnv } from './config/env.validation.js';

const logger = new Logger('Bootstrap');

async function bootstrap(): Promise<void> {
  // .env fills only variables the environment lacks (as @nestjs/config does); read it now for the log levels.
  if (existsSync('.env')) process.loadEnvFile('.env');
  // Validated up front too, so a bad variable is reported before anything starts (and sets the log levels).
  const levels = validateEnv(process.env).logLevels;
  // abortOnError: false lets a failing boot (database unreachable, bad option) reach the handler below instead of
  // Nest aborting the process.
  const app = await NestFactory.create(AppModule.forRoot(), { logger: levels, abortOnError: false });
  app.enableShutdownHooks();
  const config = app.get(BotConfig);
  await app.listen(config.port, config.host);
  logger.log(`listening on http://${config.host}:${config.port} — POST /telegram/webhook, GET /health, GET /metrics`);
  logger.log(
    `database: ${config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${config.pgliteDataDir}`}; cache: ${config.cacheEnabled ? (config.redisUrl ? 'Redis (REDIS_URL)' : 'in-memory') : 'disabled'}`,
  );
}

bootstrap().catch((err: unknown) => {
  logger.error(err instanceof Error ? err.message : String(err), err instanceof Error ? err.stack : undefined);
  process.exitCode = 1;
});
