import { randomBytes } from 'node:crypto';
import type { LogLevel } from '@nestjs/common';
import { Money } from '../users/money.js';
import { BotConfig } from './bot-config.js';

/** Thrown at boot when an environment variable is invalid; the message names the variable. */
export class EnvValidationError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`Invalid environment variable ${variable}: ${message}`);
    this.name = 'EnvValidationError';
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
const DURATION = /^\d+(?:\.\d+)?(?:ms|s|m|h|d)$/;
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

function read(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  const value = raw.trim();
  return value === '' ? undefined : value;
}

function int(env: Env, name: string, fallback: number, minimum: number, maximum = Number.MAX_SAFE_INTEGER): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < minimum || Number(raw) > maximum) {
    throw new EnvValidationError(name, `expected an integer from ${minimum} to ${maximum}, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['true', '1', 'yes', 'on'].includes(raw)) return true;
  if (['false', '0', 'no', 'off'].includes(raw)) return false;
  throw new EnvValidationError(name, `expected true or false, got ${JSON.stringify(raw)}`);
}

function url(env: Env, name: string, protocols: readonly string[]): string | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    // The value may carry a password: never echo it.
    throw new EnvValidationError(name, `not a valid URL (expected ${protocols.map((p) => `${p}//…`).join(' or ')})`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new EnvValidationError(
      name,
      `expected a ${protocols.join(' or ')} URL, got protocol ${JSON.stringify(parsed.protocol)}`,
    );
  }
  return raw;
}

function money(env: Env, name: string, fallback: string, allowZero: boolean): string {
  const raw = read(env, name) ?? fallback;
  if (!Money.isValid(raw) || (!allowZero && Money.parse(raw) === 0n)) {
    throw new EnvValidationError(
      name,
      `expected a ${allowZero ? 'non-negative' : 'positive'} decimal with at most 4 fraction digits such as "0.05", got ${JSON.stringify(raw)}`,
    );
  }
  return raw;
}

function token(env: Env, name: string): string | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  if (name === 'TELEGRAM_SECRET_TOKEN' && !/^[A-Za-z0-9_-]{1,256}$/.test(raw)) {
    throw new EnvValidationError(name, 'Telegram accepts 1-256 characters of A-Z, a-z, 0-9, _ and -');
  }
  if (raw.length < 8) throw new EnvValidationError(name, 'must be at least 8 characters long');
  return raw;
}

function environment(env: Env): 'production' | 'development' {
  const raw = read(env, 'BOT_ENV');
  // The zero-setup run (`npm start` with no DATABASE_URL: the embedded PGlite, one process) is a development run.
  if (raw === undefined) return read(env, 'DATABASE_URL') === undefined ? 'development' : 'production';
  if (raw !== 'production' && raw !== 'development')
    throw new EnvValidationError('BOT_ENV', `expected production or development, got ${JSON.stringify(raw)}`);
  return raw;
}

/** The webhook secret: required in production; generated (random, 32 characters) in development when absent. */
function webhookSecret(env: Env, mode: 'production' | 'development'): { token: string; generated: boolean } {
  const configured = token(env, 'TELEGRAM_SECRET_TOKEN');
  if (configured !== undefined) return { token: configured, generated: false };
  if (mode === 'production')
    throw new EnvValidationError(
      'TELEGRAM_SECRET_TOKEN',
      'required in production (BOT_ENV=production, the default when DATABASE_URL is set): set the secret_token given to setWebhook, or BOT_ENV=development to run with a generated one',
    );
  return { token: randomBytes(24).toString('base64url'), generated: true };
}

function currency(env: Env): string {
  const value = read(env, 'PAYMENT_CURRENCY') ?? 'XTR';
  if (!/^[A-Z]{3}$/.test(value))
    throw new EnvValidationError(
      'PAYMENT_CURRENCY',
      `expected a three-letter currency code, got ${JSON.stringify(value)}`,
    );
  return value;
}

function logLevels(env: Env): LogLevel[] {
  const raw = read(env, 'LOG_LEVEL') ?? 'log';
  const index = LOG_LEVELS.indexOf(raw as LogLevel);
  if (index < 0)
    throw new EnvValidationError('LOG_LEVEL', `expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(raw)}`);
  return LOG_LEVELS.slice(0, index + 1);
}

/**
 * Validates the environment and builds the typed {@link BotConfig}. Throws {@link EnvValidationError} naming the first
 * bad variable (boot stops there).
 * @example validateEnv({ PORT: '8080', MESSAGE_PRICE: '0.10' }).port // 8080
 */
function deployId(env: Env): string {
  const value = read(env, 'DEPLOY_ID') ?? 'default';
  if (!/^[\x21-\x7e]{1,128}$/.test(value))
    throw new EnvValidationError(
      'DEPLOY_ID',
      `expected 1-128 printable characters without spaces, got ${JSON.stringify(value)}`,
    );
  return value;
}

export function validateEnv(env: Env): BotConfig {
  const cachePrefix = read(env, 'CACHE_PREFIX') ?? 'bot';
  if (!NAME.test(cachePrefix))
    throw new EnvValidationError(
      'CACHE_PREFIX',
      `expected 1-64 characters of A-Z, a-z, 0-9, _, . and -, got ${JSON.stringify(cachePrefix)}`,
    );
  const cacheTtl = read(env, 'CACHE_TTL') ?? '1h';
  if (!DURATION.test(cacheTtl))
    throw new EnvValidationError(
      'CACHE_TTL',
      `expected a duration such as "30s", "5m" or "1h", got ${JSON.stringify(cacheTtl)}`,
    );
  const cacheCommandTimeout = read(env, 'CACHE_COMMAND_TIMEOUT') ?? '1s';
  if (!DURATION.test(cacheCommandTimeout))
    throw new EnvValidationError(
      'CACHE_COMMAND_TIMEOUT',
      `expected a duration such as "250ms" or "1s", got ${JSON.stringify(cacheCommandTimeout)}`,
    );
  const defaultModel = read(env, 'DEFAULT_MODEL') ?? 'echo-1';
  if (!NAME.test(defaultModel))
    throw new EnvValidationError(
      'DEFAULT_MODEL',
      `expected a model id such as "echo-1", got ${JSON.stringify(defaultModel)}`,
    );
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:']);
  const mode = environment(env);
  const secret = webhookSecret(env, mode);
  const values: BotConfig = {
    port: int(env, 'PORT', 3000, 0, 65535),
    host: read(env, 'HOST') ?? '0.0.0.0',
    databaseUrl,
    pgliteDataDir: read(env, 'PGLITE_DATA_DIR') ?? './data/pglite',
    databasePoolSize: int(env, 'DATABASE_POOL_SIZE', 10, 1, 1000),
    redisUrl,
    cacheEnabled: bool(env, 'CACHE_ENABLED', true),
    cachePrefix,
    deployId: deployId(env),
    cacheTtl,
    cacheCommandTimeout,
    cacheMemoryMaxEntries: int(env, 'CACHE_MEMORY_MAX_ENTRIES', 10_000, 1),
    environment: mode,
    telegramSecretToken: secret.token,
    telegramSecretGenerated: secret.generated,
    paymentCurrency: currency(env),
    paymentProviderToken: read(env, 'PAYMENT_PROVIDER_TOKEN') ?? '',
    adminToken: token(env, 'ADMIN_TOKEN'),
    messagePrice: money(env, 'MESSAGE_PRICE', '0.05', false),
    initialBalance: money(env, 'INITIAL_BALANCE', '1.00', true),
    defaultModel,
    responderContext: bool(env, 'RESPONDER_CONTEXT', false),
    historyLimit: int(env, 'HISTORY_LIMIT', 50, 1, 1000),
    filesLatencyMs: int(env, 'FILES_LATENCY_MS', 150, 0, 60_000),
    filesBandwidthBytesPerSec: int(env, 'FILES_BANDWIDTH_BYTES_PER_SEC', 20 * 1024 * 1024, 1),
    filesMaxBytes: int(env, 'FILES_MAX_BYTES', 50 * 1024 * 1024, 1, 2000 * 1024 * 1024),
    logLevels: logLevels(env),
  };
  return Object.assign(new BotConfig(), values);
}
