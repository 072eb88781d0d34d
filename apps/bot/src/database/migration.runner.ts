import { Logger } from '@nestjs/common';
import type { Database } from './database.js';
import type { Migration } from './migration.js';

/** Advisory lock key shared by every instance, so two bots starting at once migrate one after the other. */
const MIGRATION_LOCK = 0x626f74; // 'bot'

/**
 * Applies pending migrations at start: each in its own transaction together with its row in `bot_migrations`,
 * under a transaction-scoped advisory lock. Idempotent; safe with several instances.
 */
export class MigrationRunner {
  private readonly logger = new Logger(MigrationRunner.name);

  constructor(
    private readonly db: Database,
    private readonly migrations: readonly Migration[],
  ) {}

  /** Returns the ids it applied. */
  async run(): Promise<string[]> {
    await this.db.exec(
      'CREATE TABLE IF NOT EXISTS bot_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const applied: string[] = [];
    for (const migration of this.migrations) {
      const done = await this.db.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        const seen = await tx.query('SELECT 1 FROM bot_migrations WHERE id = $1', [migration.id]);
        if (seen.rows.length > 0) return false;
        for (const statement of splitStatements(migration.sql)) await tx.query(statement);
        await tx.query('INSERT INTO bot_migrations (id) VALUES ($1)', [migration.id]);
        return true;
      });
      if (done) {
        applied.push(migration.id);
        this.logger.log(`applied migration ${migration.id}`);
      }
    }
    return applied;
  }
}

/** Splits a migration script on `;` at line ends (migrations keep one statement per `;`-terminated block). */
function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*(?:\r?\n|$)/)
    .map((statement) => statement.replace(/^\s*--[^\n]*$/gm, '').trim())
    .filter((statement) => statement.length > 0);
}
