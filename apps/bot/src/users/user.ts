/** A bot user as cached in namespace `user` (plain JSON). */
export interface User {
  /** Telegram user id. */
  id: number;
  firstName: string;
  lastName: string | null;
  username: string | null;
  languageCode: string | null;
  /** IANA time zone the user set with /timezone (their day for /stats); null: UTC. */
  timezone: string | null;
  /** The responder model the user chose. */
  modelId: string;
  /** Exact decimal, as PostgreSQL's numeric prints it (e.g. '0.9500'). */
  balance: string;
  /** Increases with every balance change; a cached copy never goes back to an older balance. */
  balanceVersion: number;
}

/** The Telegram profile fields a user is registered with. */
export interface UserProfile {
  id: number;
  firstName: string;
  lastName?: string | undefined;
  username?: string | undefined;
  languageCode?: string | undefined;
}
