import { createHash } from 'node:crypto';
import { CacheError } from '../errors/cache.error.js';
import { ErrorMessages } from '../errors/error-messages.js';
import { composePrefix } from './composite-key.js';
import type { KeyPart } from './composite-key.js';
import { encodeArgs, encodeNumber } from './key.encoder.js';

/** Prefixes and namespaces: no ':' (the separator) and no glob characters, so a scan pattern built from them is exact. */
export const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Key strings longer than this (in UTF-16 code units) are stored in their long form (see {@link entryPart}).
 * @default 200
 */
export const MAX_RAW_KEY_LENGTH = 200;

/** How much of a long key stays readable (and prefix-addressable) in front of its hash. */
const LONG_KEY_HEAD = 150;

/** Validated namespace prefixes kept for the hot path. */
const MAX_REMEMBERED_NAMESPACES = 1_000;

/** Longest tag accepted. */
export const MAX_TAG_LENGTH = 256;

const TYPED = 0x3d; // '='
const HASH_MARK = 0x23; // '#'

/**
 * The one key grammar: the key string of a key value, whichever path names it (a decorator's `key` function, the
 * default key of a one-argument method, `invalidateOn`, `@CacheInvalidate` / `@CachePut`, every CacheService
 * method). A string is the key as is (a string that starts with `=` takes the typed form); any other value is `=`
 * followed by its typed, injective encoding ({@link encodeArgs}): `42` → `=n42`, `'42'` → `42`, `{ id: 1 }` →
 * `={s2:id=n1}`. So values that differ in type never share a key (`42` ≠ `'42'`), and equal values always do.
 * `null` and `undefined` are refused (a missing id is a bug, not a key): `E_UNSERIALIZABLE_KEY`.
 * @example keyOf(42) // '=n42'; keyOf('user:42') // 'user:42'
 */
export function keyOf(value: unknown): string {
  if (typeof value === 'string') return value.charCodeAt(0) === TYPED ? `=${encodeArgs([value])}` : value;
  if (value === undefined || value === null) {
    throw new CacheError('E_UNSERIALIZABLE_KEY', ErrorMessages.unserializableKey(`a ${String(value)} key`));
  }
  return `=${encodeArgs([value])}`;
}

/**
 * The key string of a call to a decorated method without a `key` function: one argument is named like that value
 * ({@link keyOf}), so `getUser(42)` is the entry `cache.get('user', 42)` reads and `invalidateOn: (e) => e.id`
 * removes; any other number of arguments is `=` + the encoding of the list (never equal to one value's key).
 * @example argsKey([42]) // '=n42'; argsKey(['a', 1]) // '=s1:a,n1'
 */
export function argsKey(args: readonly unknown[]): string {
  if (args.length === 1) {
    const only = args[0];
    if (typeof only === 'string') return keyOf(only);
    return `=${encodeArgs(args)}`;
  }
  return `=${encodeArgs(args)}`;
}

/**
 * The stored form of a key string: verbatim when short and well-formed (a leading `#` doubled); otherwise the long
 * form `#~<head>~<sha256>` (UTF-16 code units hashed, so lone surrogates never merge), whose readable head keeps
 * prefix clears working. Injective: verbatim keys never start with a single `#`, hashes have a fixed length.
 */
function entryPart(key: string): string {
  if (key.length <= MAX_RAW_KEY_LENGTH && isWellFormed(key)) return key.charCodeAt(0) === HASH_MARK ? `#${key}` : key;
  return `#~${longHead(key)}~${hash(key)}`;
}

/** The readable head of a long key: its well-formed start, cut so that no surrogate pair is split. */
function longHead(key: string): string {
  let end = Math.min(LONG_KEY_HEAD, key.length);
  const last = key.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  const head = key.slice(0, end);
  // A head holding a lone surrogate would be mangled on the wire (UTF-8): such keys are hashed whole.
  return isWellFormed(head) ? head : '';
}

function hash(text: string): string {
  return createHash('sha256').update(text, 'utf16le').digest('base64url');
}

function isWellFormed(text: string): boolean {
  // Native scan (Node 20): false exactly when the string has a lone surrogate.
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/**
 * Every key tiercache stores or sends, in one place: `<prefix>:<namespace>:<key>` for entries, and the reserved
 * `<prefix>:__*` shapes (tag index, lease, warm lease, bus channel). Nothing outside `<prefix>:` is ever built, so
 * nothing outside it is ever read, written or deleted. Names are checked here (namespaces, tags).
 * @example const space = new KeySpace('bot'); space.entry('user', 42) // 'bot:user:=n42'
 */
export class KeySpace {
  /** `<prefix>:` — every key starts with it. */
  readonly root: string;
  /** The pub/sub channel of the invalidation bus. */
  readonly channel: string;
  private readonly namespaces = new Map<string, string>();

  constructor(readonly prefix: string) {
    this.root = `${prefix}:`;
    this.channel = `${prefix}:__bus`;
  }

  /** Whether a full key (e.g. a tag member, a bus message key) lies inside this prefix. */
  owns(key: unknown): key is string {
    return typeof key === 'string' && key.startsWith(this.root) && isWellFormed(key);
  }

  /** The entry key of a key value ({@link keyOf}). */
  entry(namespace: string, key: unknown): string {
    return this.namespace(namespace) + entryPart(keyOf(key));
  }

  /** The entry key of a key value under a namespace prefix already built by {@link namespace} (hot path). */
  entryUnder(namespacePrefix: string, key: unknown): string {
    // The commonest key, a numeric id: its typed form is short and well-formed by construction.
    if (typeof key === 'number') return `${namespacePrefix}=${encodeNumber(key)}`;
    return namespacePrefix + entryPart(keyOf(key));
  }

  /** The entry key of a call under a namespace prefix already built by {@link namespace} (hot path). */
  callUnder(namespacePrefix: string, args: readonly unknown[]): string {
    return namespacePrefix + entryPart(argsKey(args));
  }

  /** The entry key of a decorated call without a `key` function ({@link argsKey}). */
  call(namespace: string, args: readonly unknown[]): string {
    return this.namespace(namespace) + entryPart(argsKey(args));
  }

  /** The prefix every entry of a namespace starts with (`<prefix>:<namespace>:`). */
  namespace(namespace: string): string {
    const known = this.namespaces.get(namespace);
    if (known !== undefined) return known;
    const prefix = `${this.root}${checkNamespace(namespace)}:`;
    // Remembered for the hot path (decorators call this on every call); bounded, whatever names callers pass.
    if (this.namespaces.size < MAX_REMEMBERED_NAMESPACES) this.namespaces.set(namespace, prefix);
    return prefix;
  }

  /**
   * The key prefixes of every entry whose key was built with `composeKey(...parts, ...more)`: the verbatim form,
   * and the long form's head (longer composed keys). A head shorter than the prefix may cover a few more long
   * keys than asked (an over-invalidation, never a miss).
   */
  composed(namespace: string, parts: readonly KeyPart[]): string[] {
    const ns = this.namespace(namespace);
    const text = composePrefix(parts);
    // Mirrors entryPart: a key starting with '#' (a hashed first part) is stored with the '#' doubled.
    const verbatim = ns + (text.charCodeAt(0) === HASH_MARK ? `#${text}` : text);
    const head = longHead(text);
    return head === '' ? [verbatim, `${ns}#~`] : [verbatim, `${ns}#~${head}`];
  }

  /** The lease key guarding the load of an entry. */
  lease(entryKey: string): string {
    return `${this.root}__lease:${entryKey.slice(this.root.length)}`;
  }

  /** The once-per-deploy warming lease of a warmer. */
  warm(name: string, deployId: string): string {
    return `${this.root}__warm:${entryPart(name)}:${entryPart(deployId)}`;
  }

  /** The generation key of a tag (validated): the tag's current generation; invalidating the tag removes it. */
  tag(tag: string): string {
    return `${this.root}__tag:${entryPart(checkTag(tag))}`;
  }

  /**
   * The load fence of a namespace: replaced (a random value) by every prefix invalidation or clear of the namespace,
   * before its keys go. A load reads it before its loader runs and writes only if it is unchanged (absent keys can
   * hold no tombstone, so this is what stops a load that read the source before the clear from caching after it).
   */
  fence(namespace: string): string {
    return `${this.root}__fence:${checkNamespace(namespace)}`;
  }

  /** The load fence of tags: replaced by every tag invalidation; a tagged load's write checks it (see {@link fence}). */
  get tagFence(): string {
    return `${this.root}__fence:__tags`;
  }

  /** The namespace of an entry key or of a namespace's key prefix (the segment after the root), undefined if none. */
  namespaceOf(key: string): string | undefined {
    if (!key.startsWith(this.root)) return undefined;
    const end = key.indexOf(':', this.root.length);
    if (end < 0) return undefined;
    const name = key.slice(this.root.length, end);
    return NAME_PATTERN.test(name) && !name.startsWith('__') ? name : undefined;
  }

  /** The member index of a tag (validated): a sorted set of entry keys by deadline, bounded, for physical cleanup. */
  tagIndex(tag: string): string {
    return `${this.root}__tagidx:${entryPart(checkTag(tag))}`;
  }
}

/** A namespace name, validated: `[A-Za-z0-9_.-]{1,64}`, not starting with `__` (reserved). */
export function checkNamespace(namespace: unknown): string {
  if (typeof namespace !== 'string' || !NAME_PATTERN.test(namespace) || namespace.startsWith('__')) {
    throw new CacheError('E_MISUSE', ErrorMessages.unknownNamespace(String(namespace).slice(0, 80)));
  }
  return namespace;
}

/** A tag, validated: a non-empty string of at most {@link MAX_TAG_LENGTH} characters. */
export function checkTag(tag: unknown): string {
  if (typeof tag !== 'string' || tag.length === 0 || tag.length > MAX_TAG_LENGTH) {
    throw new CacheError(
      'E_MISUSE',
      ErrorMessages.misuse(
        'tags',
        `a tag must be a non-empty string of ≤ ${MAX_TAG_LENGTH} characters (got ${typeof tag === 'string' ? `${tag.length} characters` : typeof tag})`,
        'build tags like `user:${id}`',
      ),
    );
  }
  return tag;
}

/** Tags from a list given by a caller: each validated; anything but an array is refused. */
export function checkTags(tags: unknown): string[] {
  if (!Array.isArray(tags))
    throw new CacheError('E_MISUSE', ErrorMessages.misuse('tags', 'tags must be an array of strings', "['user:42']"));
  return tags.map(checkTag);
}
