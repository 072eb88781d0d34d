import type { StatementKind } from './statement-kind.js';
import { statementKind } from './statement-kind.js';

/** Rows of one statement. */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

/** Something SQL runs on: the database itself or an open transaction. */
export interface Queryable {
  query<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
}

/** Called once per round trip to the database, for metrics. */
export type QueryObserver = (kind: StatementKind) => void;

/**
 * The bot's database: PostgreSQL through `pg`, or the embedded PGlite, behind one small interface so the same SQL and
 * migrations run on both. Type parsing is the same on both: int8 → number, numeric → string (exact decimals).
 */
export abstract class Database implements Queryable {
  /** Which driver is in use. */
  abstract readonly driver: 'pg' | 'pglite';
  private observer: QueryObserver | undefined;

  /** Sets the per-round-trip observer (the metrics module does). */
  observe(observer: QueryObserver): void {
    this.observer = observer;
  }

  /** Runs one parameterized statement. */
  query<R extends object = Record<string, unknown>>(
    sql: string,
    params: readonly unknown[] = [],
  ): Promise<QueryResult<R>> {
    this.count(sql);
    return this.run<R>(sql, params);
  }

  /** Runs `fn` in a transaction: COMMIT when it resolves, ROLLBACK when it throws. */
  abstract transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;

  /**
   * Runs `fn` holding the exclusive lock named `key`, shared by every process on this database (PostgreSQL: a
   * session advisory lock on a connection of its own, so a process that dies releases it with its connection).
   */
  abstract withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;

  /** Runs a script of several statements without parameters (migrations). */
  abstract exec(sql: string): Promise<void>;

  /** Closes connections (or the embedded instance). */
  abstract close(): Promise<void>;

  protected abstract run<R extends object>(sql: string, params: readonly unknown[]): Promise<QueryResult<R>>;

  protected count(sql: string): void {
    this.observer?.(statementKind(sql));
  }
}

/** Whether `err` is PostgreSQL's unique_violation (SQLSTATE 23505), on either driver. */
export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}

/** Whether `err` is PostgreSQL's numeric_value_out_of_range (SQLSTATE 22003), on either driver. */
export function isNumericOverflow(err: unknown): boolean {
  return sqlState(err) === '22003';
}

/** The SQLSTATE of a database error (pg and PGlite both expose `code`), if any. */
export function sqlState(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}
