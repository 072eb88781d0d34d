import { Global, Logger, Module } from '@nestjs/common';
import type { OnApplicationShutdown } from '@nestjs/common';
import { BotConfig } from '../config/bot-config.js';
import { BotMetrics } from '../metrics/bot-metrics.js';
import { Database } from './database.js';
import { MigrationRunner } from './migration.runner.js';
import { MIGRATIONS } from './migrations/migrations.js';
import { PgDatabase } from './pg.database.js';
import { PgliteDatabase } from './pglite.database.js';

const logger = new Logger('DatabaseModule');

/**
 * Provides {@link Database}: PostgreSQL when DATABASE_URL is set, otherwise the embedded PGlite in PGLITE_DATA_DIR.
 * Migrations run before anything can query, every round trip is counted in the metrics, and the connection closes
 * on shutdown.
 */
@Global()
@Module({
  providers: [
    {
      provide: Database,
      inject: [BotConfig, BotMetrics],
      useFactory: async (config: BotConfig, metrics: BotMetrics): Promise<Database> => {
        const db = config.databaseUrl
          ? new PgDatabase(config.databaseUrl, config.databasePoolSize)
          : await PgliteDatabase.open(config.pgliteDataDir);
        logger.log(
          config.databaseUrl
            ? `PostgreSQL (pg pool of ${config.databasePoolSize})`
            : `embedded PostgreSQL (PGlite) in ${config.pgliteDataDir}`,
        );
        try {
          await new MigrationRunner(db, MIGRATIONS).run();
        } catch (err) {
          await db.close().catch(() => undefined);
          throw err;
        }
        db.observe((kind) => metrics.dbQuery(kind));
        return db;
      },
    },
  ],
  exports: [Database],
})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(private readonly db: Database) {}

  async onApplicationShutdown(): Promise<void> {
    await this.db.close();
  }
}
