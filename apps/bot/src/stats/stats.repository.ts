import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';

interface StatsRow {
  balance: string;
  messages: number;
  spend: string;
}

/**
 * One round trip, one snapshot: the balance and the day's answered messages (by their Telegram date) with what they
 * cost, less refunds of those charges.
 */
const TODAY = `
SELECT u.balance,
       (SELECT count(*) FROM messages m JOIN payments c ON c.message_id = m.id AND c.kind = 'charge'
         WHERE m.user_id = u.id AND m.role = 'user' AND m.date >= to_timestamp($2) AND m.date < to_timestamp($3))::int8 AS messages,
       (SELECT coalesce(sum(c.amount), 0) - coalesce(sum(r.amount), 0)
          FROM messages m JOIN payments c ON c.message_id = m.id AND c.kind = 'charge'
          LEFT JOIN payments r ON r.refund_of = c.id
         WHERE m.user_id = u.id AND m.role = 'user' AND m.date >= to_timestamp($2) AND m.date < to_timestamp($3)) AS spend
FROM users u WHERE u.id = $1`;

/** SQL of the daily stats. */
@Injectable()
export class StatsRepository {
  constructor(private readonly db: Database) {}

  /** The user's messages and spend between two instants (Unix seconds), and the balance; null for an unknown user. */
  async between(userId: number, start: number, end: number): Promise<StatsRow | null> {
    const { rows } = await this.db.query<StatsRow>(TODAY, [userId, start, end]);
    return rows[0] ?? null;
  }
}
