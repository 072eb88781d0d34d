import { describe, expect, it } from '@jest/globals';
import { EnvValidationError, validateEnv } from '../../apps/bot/src/config/env.validation.js';
import { Money } from '../../apps/bot/src/users/money.js';

describe('bot environment validation', () => {
  it('gives the documented defaults for an empty environment (development: a generated webhook secret)', () => {
    const config = validateEnv({});
    expect(config.telegramSecretToken).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(validateEnv({}).telegramSecretToken).not.toBe(config.telegramSecretToken);
    expect({ ...config }).toEqual({
      port: 3000,
      host: '0.0.0.0',
      databaseUrl: undefined,
      pgliteDataDir: './data/pglite',
      databasePoolSize: 10,
      redisUrl: undefined,
      cacheEnabled: true,
      cachePrefix: 'bot',
      deployId: 'default',
      cacheTtl: '1h',
      cacheCommandTimeout: '1s',
      cacheMemoryMaxEntries: 10_000,
      environment: 'development',
      telegramSecretToken: config.telegramSecretToken,
      telegramSecretGenerated: true,
      paymentCurrency: 'XTR',
      paymentProviderToken: '',
      adminToken: undefined,
      messagePrice: '0.05',
      initialBalance: '1.00',
      defaultModel: 'echo-1',
      responderContext: false,
      historyLimit: 50,
      filesLatencyMs: 150,
      filesBandwidthBytesPerSec: 20 * 1024 * 1024,
      filesMaxBytes: 50 * 1024 * 1024,
      logLevels: ['fatal', 'error', 'warn', 'log'],
    });
  });

  it.each([
    [{ PORT: '70000' }, 'PORT', 'expected an integer from 0 to 65535, got "70000"'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL', 'expected a postgres: or postgresql: URL, got protocol "mysql:"'],
    [{ DATABASE_URL: 'postgres://user:secret@' }, 'DATABASE_URL', 'not a valid URL'],
    [{ REDIS_URL: 'http://localhost' }, 'REDIS_URL', 'expected a redis: or rediss: URL'],
    [{ CACHE_ENABLED: 'maybe' }, 'CACHE_ENABLED', 'expected true or false, got "maybe"'],
    [{ CACHE_PREFIX: 'a:b' }, 'CACHE_PREFIX', 'expected 1-64 characters'],
    [{ CACHE_TTL: 'forever' }, 'CACHE_TTL', 'expected a duration'],
    [{ MESSAGE_PRICE: '0' }, 'MESSAGE_PRICE', 'expected a positive decimal'],
    [{ MESSAGE_PRICE: '0.123456' }, 'MESSAGE_PRICE', 'at most 4 fraction digits'],
    [{ INITIAL_BALANCE: '-1' }, 'INITIAL_BALANCE', 'non-negative decimal'],
    [{ TELEGRAM_SECRET_TOKEN: 'has space!' }, 'TELEGRAM_SECRET_TOKEN', 'Telegram accepts'],
    [{ ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN', 'at least 8 characters'],
    [{ HISTORY_LIMIT: '0' }, 'HISTORY_LIMIT', 'expected an integer from 1 to 1000'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', 'expected one of fatal, error, warn, log, debug, verbose'],
  ])('rejects %j naming the variable', (env, variable, message) => {
    let error: unknown;
    try {
      validateEnv(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(EnvValidationError);
    expect((error as EnvValidationError).variable).toBe(variable);
    expect((error as Error).message).toContain(`Invalid environment variable ${variable}: `);
    expect((error as Error).message).toContain(message);
    // A URL's credentials never reach the message.
    expect((error as Error).message).not.toContain('secret');
  });
});

describe('Money', () => {
  it('parses, compares and formats exact decimals', () => {
    expect(Money.parse('0.05')).toBe(500n);
    expect(Money.parse('12.3456')).toBe(123_456n);
    expect(Money.parse('-1.5')).toBe(-15_000n);
    expect(Money.lessThan('0.0499', '0.05')).toBe(true);
    expect(Money.lessThan('0.0500', '0.05')).toBe(false);
    expect(['0.9500', '1', '0.0000', '2.5000', '1.2340', '-0.5'].map(Money.format)).toEqual([
      '0.95',
      '1.00',
      '0.00',
      '2.50',
      '1.234',
      '-0.50',
    ]);
    expect(Money.isValid('1e3')).toBe(false);
  });
});

describe('the webhook secret is required outside development', () => {
  it('refuses production (the default with DATABASE_URL) without TELEGRAM_SECRET_TOKEN, naming the variable', () => {
    const db = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/bot' };
    expect(() => validateEnv(db)).toThrow('Invalid environment variable TELEGRAM_SECRET_TOKEN: required in production');
    expect(() => validateEnv({ BOT_ENV: 'production' })).toThrow(/TELEGRAM_SECRET_TOKEN: required in production/);
    expect(() => validateEnv({ ...db, BOT_ENV: 'staging' })).toThrow(/BOT_ENV: expected production or development/);
    expect(validateEnv({ ...db, TELEGRAM_SECRET_TOKEN: 'abcdefgh1' })).toMatchObject({
      environment: 'production',
      telegramSecretToken: 'abcdefgh1',
      telegramSecretGenerated: false,
    });
    expect(validateEnv({ ...db, BOT_ENV: 'development' })).toMatchObject({
      environment: 'development',
      telegramSecretGenerated: true,
    });
  });
});

describe('boot with a bad environment', () => {
  it('stops with an error naming the variable, before touching a database', async () => {
    const { BotApp } = await import('./support/bot-app.js');
    await expect(BotApp.start({ MESSAGE_PRICE: 'free' })).rejects.toThrow(
      'Invalid environment variable MESSAGE_PRICE: expected a positive decimal',
    );
  });
});
