import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The development / CI PostgreSQL (trust auth); override with BOT_TEST_PG_URL. */
const ADMIN_URL = process.env['BOT_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * A throw-away database on the real PostgreSQL for one suite: `CREATE DATABASE bot_test_<random>` on start,
 * dropped (with its connections) on `drop()`.
 * @example const db = await TestDatabase.create(); ... await db.drop();
 */
export class TestDatabase {
  private readonly client: pg.Client;

  private constructor(
    readonly name: string,
    readonly url: string,
  ) {
    // int8 as number, like the app (Telegram and row ids fit in 53 bits).
    this.client = new pg.Client({
      connectionString: url,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === 20 ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    });
  }

  static async create(): Promise<TestDatabase> {
    const name = `bot_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.end();
    }
    const url = new URL(ADMIN_URL);
    url.pathname = `/${name}`;
    const db = new TestDatabase(name, url.toString());
    await db.client.connect();
    return db;
  }

  /** A query on the suite's database, outside the app (to check what it stored). */
  async query<R extends pg.QueryResultRow = Record<string, unknown>>(
    sql: string,
    params: unknown[] = [],
  ): Promise<R[]> {
    return (await this.client.query<R>(sql, params)).rows;
  }

  async drop(): Promise<void> {
    await this.client.end().catch(() => undefined);
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  }
}
