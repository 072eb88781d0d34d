/** Stable error codes: match on `code`, never on the message. */
export type CacheErrorCode =
  | 'E_INVALID_OPTION'
  | 'E_MISUSE'
  | 'E_UNSERIALIZABLE_KEY'
  | 'E_UNSERIALIZABLE_VALUE'
  | 'E_VALUE_TOO_LARGE'
  | 'E_DECODE'
  | 'E_KIND_MISMATCH'
  | 'E_BACKEND_UNAVAILABLE'
  | 'E_TIMEOUT';

/**
 * Base class of every error tiercache creates. Errors thrown by a decorated method itself are never wrapped.
 * @example
 * if (err instanceof CacheError && err.code === 'E_INVALID_OPTION') { ... }
 */
export class CacheError extends Error {
  constructor(
    readonly code: CacheErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CacheError';
  }
}

/** True for the error a backend throws when a list is read as a value, or a value as a list (the entry is kept). */
export function isKindMismatch(err: unknown): err is CacheError {
  return err instanceof CacheError && err.code === 'E_KIND_MISMATCH';
}
