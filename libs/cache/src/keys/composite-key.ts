import { createHash } from 'node:crypto';
import { CacheError } from '../errors/cache.error.js';
import { ErrorMessages } from '../errors/error-messages.js';

/**
 * Parts longer than this (or holding a lone surrogate, which the wire's UTF-8 would merge with U+FFFD) are replaced
 * by `#` + the sha256 of their UTF-16 code units (base64url), so a composite key stays short and injective.
 */
export const MAX_PART_LENGTH = 64;

/** One part of a composite key. */
export type KeyPart = string | number | bigint | boolean;

/**
 * Builds a key from parts joined by `:`, escaping `\` and `:` inside parts (and a leading `#` or `=`), so that
 * `invalidatePrefix(namespace, parts)` can address every key that starts with the same parts — and only those.
 * Glob characters need no escaping here: they are escaped when a scan pattern is built.
 * @example composeKey(123, '2026-11-22') // '123:2026-11-22'; composeKey('a:b') // 'a\\:b'
 */
export function composeKey(...parts: readonly KeyPart[]): string {
  if (parts.length === 0)
    throw new CacheError('E_UNSERIALIZABLE_KEY', ErrorMessages.unserializableKey('an empty list of key parts'));
  return parts.map(encodePart).join(':');
}

/** The key prefix (with its trailing `:`) that every `composeKey(...parts, ...more)` starts with. */
export function composePrefix(parts: readonly KeyPart[]): string {
  if (parts.length === 0) return '';
  return `${composeKey(...parts)}:`;
}

function encodePart(part: KeyPart): string {
  let text: string;
  switch (typeof part) {
    case 'string':
      text = part;
      break;
    case 'number':
    case 'bigint':
    case 'boolean':
      text = String(part);
      break;
    default:
      throw new CacheError(
        'E_UNSERIALIZABLE_KEY',
        ErrorMessages.unserializableKey(`a key part of type ${typeof part}`),
      );
  }
  if (text.length > MAX_PART_LENGTH || !(text as string & { isWellFormed(): boolean }).isWellFormed())
    return `#${createHash('sha256').update(text, 'utf16le').digest('base64url')}`;
  const escaped = text.replace(/[\\:]/g, (c) => `\\${c}`);
  // A leading '#' would read as a hashed part, a leading '=' as a typed key (see keyOf): escape both.
  return escaped.startsWith('#') || escaped.startsWith('=') ? `\\${escaped}` : escaped;
}
