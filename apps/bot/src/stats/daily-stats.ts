/** A user's day, as /stats shows it (cached in namespace `stats`, key = user id, until the user's midnight). */
export interface DailyStats {
  /** `YYYY-MM-DD` in {@link timeZone}. */
  day: string;
  timeZone: string;
  /** Messages answered (and charged) today. */
  messages: number;
  /** Charged today, less what was refunded of it (exact decimal). */
  spend: string;
  /** The balance when this was read (exact decimal). */
  balance: string;
}
