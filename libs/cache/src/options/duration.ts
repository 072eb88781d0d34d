import { CacheError } from '../errors/cache.error.js';
import { ErrorMessages } from '../errors/error-messages.js';

/** A duration: milliseconds, or a string such as `'250ms'`, `'30s'`, `'5m'`, `'1h'`, `'1d'`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}` | string;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/;

/**
 * Parses a duration into whole milliseconds; the only place durations are parsed.
 * @param path the option's name, used in the error message
 * @example parseDuration('5m', 'defaultTtl') // 300000
 */
export function parseDuration(value: unknown, path: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.round(value);
  if (typeof value === 'string') {
    const match = PATTERN.exec(value);
    const unit = match?.[2];
    if (match?.[1] !== undefined && unit !== undefined) {
      const ms = Number(match[1]) * (UNIT_MS[unit] ?? NaN);
      if (Number.isFinite(ms)) return Math.round(ms);
    }
  }
  throw new CacheError('E_INVALID_OPTION', ErrorMessages.invalidDuration(path, describe(value)));
}

/** Renders a bad value for an error message without dumping large objects. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}
