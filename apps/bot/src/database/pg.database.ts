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
  /**
   * Connections that hold advisory locks, apart from the query pool: a lock holder then always finds a query
   * connection, so locks can never starve the queries they wait for.
   */
  private readonly lockPool: pg.Pool;

  constructor(connectionString: string, max: number) {
    super();
    const options: pg.PoolConfig = {
      connectionString,
      max,
      connectionTimeoutMillis: 5_000,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    };
    this.pool = new pg.Pool(options);
    this.lockPool = new pg.Pool({ ...options, idleTimeoutMillis: 30_000 });
    // An idle client losing its connection must not crash the process; the next query reconnects.
    for (const pool of [this.pool, this.lockPool])
      pool.on('error', (err) => this.logger.warn(`idle PostgreSQL client error: ${err.message}`));
  }

  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const client = await this.lockPool.connect();
    let broken: Error | undefined;
    try {
      this.count('SELECT pg_advisory_lock');
      await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [key]);
    } catch (err) {
      client.release(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
    try {
      return await fn();
    } finally {
      try {
        this.count('SELECT pg_advisory_unlock');
        await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key]);
      } catch (err) {
        // Closing the session gives the lock back.
        broken = err instanceof Error ? err : new Error(String(err));
        this.logger.warn(
          `advisory unlock failed (SQLSTATE ${(err as { code?: string }).code ?? '-'}): connection closed`,
        );
      }
      client.release(broken);
    }
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
    await Promise.all([this.pool.end(), this.lockPool.end()]);
  }

  protected async run<R extends object>(sql: string, params: readonly unknown[]): Promise<QueryResult<R>> {
    const result = await this.pool.query<R>(sql, params as unknown[]);
    return { rows: result.rows, rowCount: result.rowCount ?? 0 };
  }
}
