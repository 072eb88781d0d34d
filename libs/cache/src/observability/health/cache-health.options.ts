import { CacheError } from '../../errors/cache.error.js';
import { ErrorMessages } from '../../errors/error-messages.js';
import type { Duration } from '../../options/duration.js';
import { describe, parseDuration } from '../../options/duration.js';

/**
 * How the cache health check treats Redis; module-wide in `CacheHealthModule.forRoot`, per call in `isHealthy`.
 * @example
 * CacheHealthModule.forRoot({ critical: true, timeout: '500ms' })
 */
export interface CacheHealthOptions {
  /**
   * `true`: an unreachable Redis fails the health check (status `down`, HTTP 503). `false`: it is reported as
   * `degraded` and the check passes — the app keeps serving from the source and the memory tier.
   * @default false
   */
  critical?: boolean;
  /** Deadline of the PING (the client's command timeout may cut it sooner). @default '1s' */
  timeout?: Duration;
}

/**
 * Health options with defaults applied.
 * @example resolveHealthOptions({ timeout: '500ms' }) // { critical: false, timeoutMs: 500 }
 */
export interface ResolvedHealthOptions {
  critical: boolean;
  timeoutMs: number;
}

/**
 * Validates health options, over `base` (the module-wide ones).
 * @example resolveHealthOptions({ critical: true }) // { critical: true, timeoutMs: 1000 }
 */
export function resolveHealthOptions(
  options: CacheHealthOptions = {},
  base: ResolvedHealthOptions = { critical: false, timeoutMs: 1000 },
): ResolvedHealthOptions {
  if (options.critical !== undefined && typeof options.critical !== 'boolean') {
    throw new CacheError(
      'E_INVALID_OPTION',
      ErrorMessages.invalidOption('health.critical', describe(options.critical), 'true or false'),
    );
  }
  return {
    critical: options.critical ?? base.critical,
    timeoutMs:
      options.timeout === undefined ? base.timeoutMs : Math.max(1, parseDuration(options.timeout, 'health.timeout')),
  };
}
