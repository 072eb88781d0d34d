import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';
import type { User, UserProfile } from './user.js';

interface UserRow {
  id: number;
  first_name: string;
  last_name: string | null;
  username: string | null;
  language_code: string | null;
  timezone: string | null;
  model_id: string;
  balance: string;
  balance_version: number;
}

const COLUMNS = 'id, first_name, last_name, username, language_code, timezone, model_id, balance, balance_version';

/** SQL of the users table. */
@Injectable()
export class UsersRepository {
  constructor(private readonly db: Database) {}

  async find(id: number): Promise<User | null> {
    const { rows } = await this.db.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = $1`, [id]);
    return rows[0] ? toUser(rows[0]) : null;
  }

  /** Inserts the user, or refreshes the names of an existing one; returns the row either way (one round trip). */
  async upsert(profile: UserProfile, modelId: string, initialBalance: string): Promise<User> {
    const { rows } = await this.db.query<UserRow>(
      `INSERT INTO users (id, first_name, last_name, username, language_code, model_id, balance)
       VALUES ($1, $2, $3, $4, $5, $6, $7::numeric)
       ON CONFLICT (id) DO UPDATE SET first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,
         username = EXCLUDED.username, language_code = EXCLUDED.language_code, updated_at = now()
       RETURNING ${COLUMNS}`,
      [
        profile.id,
        profile.firstName,
        profile.lastName ?? null,
        profile.username ?? null,
        profile.languageCode ?? null,
        modelId,
        initialBalance,
      ],
    );
    return toUser(single(rows));
  }

  /** Returns false when the user does not exist. */
  async setTimezone(id: number, timezone: string | null): Promise<boolean> {
    const { rowCount } = await this.db.query('UPDATE users SET timezone = $2, updated_at = now() WHERE id = $1', [
      id,
      timezone,
    ]);
    return rowCount > 0;
  }

  /** Returns false when the user does not exist. */
  async setModel(id: number, modelId: string): Promise<boolean> {
    const { rowCount } = await this.db.query('UPDATE users SET model_id = $2, updated_at = now() WHERE id = $1', [
      id,
      modelId,
    ]);
    return rowCount > 0;
  }
}

function single<R>(rows: R[]): R {
  const row = rows[0];
  if (!row) throw new Error('expected one row');
  return row;
}

function toUser(row: UserRow): User {
  return {
    id: row.id,
    firstName: row.first_name,
    lastName: row.last_name,
    username: row.username,
    languageCode: row.language_code,
    timezone: row.timezone,
    modelId: row.model_id,
    balance: row.balance,
    balanceVersion: row.balance_version,
  };
}
