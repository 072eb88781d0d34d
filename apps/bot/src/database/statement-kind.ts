/** What a SQL statement does, as counted in `bot_db_queries_total{kind}`. */
export type StatementKind =
  | 'select'
  | 'insert'
  | 'update'
  | 'delete'
  | 'write'
  | 'ddl'
  | 'transaction'
  /** Taking or giving back an advisory lock (the per-thread order across instances). */
  | 'lock'
  | 'other';

const WRITES_IN_CTE = /\b(insert\s+into|update\s+[a-z_"]+\s+set|delete\s+from)\b/i;

/**
 * Classifies a statement by its leading keyword; a `WITH` statement is a `select` unless one of its parts writes
 * (then `write`: several writes in one round trip).
 * @example statementKind('WITH c AS (UPDATE users SET ...) SELECT ...') // 'write'
 */
export function statementKind(sql: string): StatementKind {
  const first = /^\s*(?:--[^\n]*\n\s*)*([a-z]+)/i.exec(sql)?.[1]?.toLowerCase();
  if (first === 'select' && /^\s*select\s+pg_advisory_(?:xact_)?(?:un)?lock\b/i.test(sql)) return 'lock';
  switch (first) {
    case 'select':
    case 'insert':
    case 'update':
    case 'delete':
      return first;
    case 'with':
      return WRITES_IN_CTE.test(sql) ? 'write' : 'select';
    case 'begin':
    case 'commit':
    case 'rollback':
      return 'transaction';
    case 'create':
    case 'alter':
    case 'drop':
      return 'ddl';
    default:
      return 'other';
  }
}
