import type { LogLevel } from '@nestjs/common';

/**
 * The bot's settings, validated once at boot from the environment (see `.env.example`). Injected by class, so a
 * provider asks for `BotConfig` and gets typed, already-checked values.
 */
export class BotConfig {
  /** HTTP port. @default 3000 */
  readonly port!: number;
  /** Interface to listen on. @default '0.0.0.0' */
  readonly host!: string;
  /** PostgreSQL URL; absent → embedded PGlite under `pgliteDataDir`. */
  readonly databaseUrl!: string | undefined;
  /** PGlite data directory when DATABASE_URL is absent. @default './data/pglite' */
  readonly pgliteDataDir!: string;
  /** pg pool size. @default 10 */
  readonly databasePoolSize!: number;
  /** Redis URL; absent → the cache's in-memory backend. */
  readonly redisUrl!: string | undefined;
  /** Turns the cache off entirely (every read goes to PostgreSQL / the files service). @default true */
  readonly cacheEnabled!: boolean;
  /** Key prefix of every cache entry. @default 'bot' */
  readonly cachePrefix!: string;
  /** Identifies this deploy (e.g. the image tag): the model catalogue is warmed once per deploy. @default 'default' */
  readonly deployId!: string;
  /** Default TTL of cache entries. @default '1h' */
  readonly cacheTtl!: string;
  /** Deadline of one Redis command; past it the cache answers from the source. @default '1s' (a 20 MiB file takes ~150 ms on loopback) */
  readonly cacheCommandTimeout!: string;
  /** Entries of the in-process cache tier. @default 10000 */
  readonly cacheMemoryMaxEntries!: number;
  /** `production` (the default with DATABASE_URL) or `development` (the default of the zero-setup embedded run). */
  readonly environment!: 'production' | 'development';
  /**
   * Expected `X-Telegram-Bot-Api-Secret-Token`, always checked. Required in production; in development a random one
   * is generated when absent (and logged at boot, see {@link telegramSecretGenerated}).
   */
  readonly telegramSecretToken!: string;
  /** Whether {@link telegramSecretToken} was generated at boot (development without TELEGRAM_SECRET_TOKEN). */
  readonly telegramSecretGenerated!: boolean;
  /** Bearer token of the admin endpoints; absent → admin endpoints answer 403. */
  readonly adminToken!: string | undefined;
  /** Currency of the invoices /topup sends (`XTR`: Telegram Stars, no provider token). @default 'XTR' */
  readonly paymentCurrency!: string;
  /** Payment provider token of sendInvoice ('' for Telegram Stars). @default '' */
  readonly paymentProviderToken!: string;
  /** Price of one answered message, exact decimal. @default '0.05' */
  readonly messagePrice!: string;
  /** Balance of a new user, exact decimal. @default '1.00' */
  readonly initialBalance!: string;
  /** Model of a new user. @default 'echo-1' */
  readonly defaultModel!: string;
  /**
   * The local responder answers with the conversation (name, history digest, thread files), and the response cache
   * keys on it; otherwise on the question and settings only. @default false
   */
  readonly responderContext!: boolean;
  /** Messages of a thread given to the responder (and kept in the cached history). @default 50 */
  readonly historyLimit!: number;
  /** Latency of the files service stand-in (Telegram getFile + download). @default 150 */
  readonly filesLatencyMs!: number;
  /** Download speed of the files service stand-in, bytes per second. @default 20971520 (20 MiB/s) */
  readonly filesBandwidthBytesPerSec!: number;
  /** Largest file the files service stand-in serves (a local Bot API server allows up to 2000 MB). @default 52428800 */
  readonly filesMaxBytes!: number;
  /** Nest log levels enabled. @default ['log', 'error', 'warn'] */
  readonly logLevels!: LogLevel[];
}
