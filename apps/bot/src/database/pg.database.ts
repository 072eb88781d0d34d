import { Logger } from '@nestjs/common';
import pg from 'pg';
import type { Queryable, QueryResult } from './database.js';
import { Database } from './database.js';

const INT8_OID = 20;

/** PostgreSQL through a `pg` pool. */
export class PgDatabase extends Database {
  readonly driver = 'pg' as const;
  private readonly logger = new Logger(PgDatabase.name);
  private readonly pool: pg.Pool;

  constructor(connectionString: string, max: number) {
    super();
    this.pool = new pg.Pool({
      connectionString,
      max,
      connectionTimeoutMillis: 5_000,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    });
    // An idle client losing its connection must not crash the process; the next query reconnects.
    this.pool.on('error', (err) => this.logger.warn(`idle PostgreSQL client error: ${err.message}`));
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const tx: Queryable = {
      query: async <R extends object>(sql: string, params: readonly unknown[] = []) => {
        this.count(sql);
        const result = await client.query<R>(sql, params as unknown[]);
        return { rows: result.rows, rowCount: result.rowCount ?? 0 };
      },
    };
    try {
      await tx.query('BEGIN');
      const result = await fn(tx);
      await tx.query('COMMIT');
      return result;
    } catch (err) {
      await tx
        .query('ROLLBACK')
        .catch((rollbackError: Error) => this.logger.warn(`ROLLBACK failed: ${rollbackError.message}`));
      throw err;
    } finally {
      client.release();
    }
  }

  async exec(sql: string): Promise<void> {
    this.count(sql);
    await this.pool.query(sql);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  protected async run<R extends object>(sql: string, params: readonly unknown[]): Promise<QueryResult<R>> {
    const result = await this.pool.query<R>(sql, params as unknown[]);
    return { rows: result.rows, rowCount: result.rowCount ?? 0 };
  }
}
