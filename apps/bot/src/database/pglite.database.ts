import { mkdir } from 'node:fs/promises';
import { PGlite, types } from '@electric-sql/pglite';
import type { Queryable, QueryResult } from './database.js';
import { Database } from './database.js';

/** pg's rowCount: PGlite reports affectedRows 0 for a SELECT, so rows returned count too. */
function rowCount(res: { rows: unknown[]; affectedRows?: number }): number {
  return Math.max(res.affectedRows ?? 0, res.rows.length);
}

/** The embedded PostgreSQL (PGlite, WASM) on a file data directory: the zero-setup default. One connection. */
export class PgliteDatabase extends Database {
  readonly driver = 'pglite' as const;

  private constructor(private readonly db: PGlite) {
    super();
  }

  /** Opens (creating if needed) the data directory. A fresh directory takes a few seconds; reopening ~0.5 s. */
  static async open(dataDir: string): Promise<PgliteDatabase> {
    await mkdir(dataDir, { recursive: true });
    const db = new PGlite(dataDir, {
      parsers: { [types.INT8]: (value: string) => Number(value), [types.NUMERIC]: (value: string) => value },
    });
    await db.waitReady;
    return new PgliteDatabase(db);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    this.count('BEGIN');
    const result = await this.db.transaction(async (inner) =>
      fn({
        query: async <R extends object>(sql: string, params: readonly unknown[] = []) => {
          this.count(sql);
          const res = await inner.query<R>(sql, [...params]);
          return { rows: res.rows, rowCount: rowCount(res) };
        },
      }),
    );
    this.count('COMMIT');
    return result;
  }

  /** The embedded database belongs to one process: the caller's in-process ordering is all there is to it. */
  async withLock<T>(_key: string, fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  async exec(sql: string): Promise<void> {
    this.count(sql);
    await this.db.exec(sql);
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
  }

  protected async run<R extends object>(sql: string, params: readonly unknown[]): Promise<QueryResult<R>> {
    const res = await this.db.query<R>(sql, [...params]);
    return { rows: res.rows, rowCount: rowCount(res) };
  }
}
