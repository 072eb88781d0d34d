/** One schema change, applied once, in id order, inside a transaction. */
export interface Migration {
  /** Sortable and unique, e.g. '0001-initial'. */
  id: string;
  /** Plain SQL that both PostgreSQL and PGlite run. */
  sql: string;
}
