import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { composeKey } from './composite-key.js';
import { argsKey, checkNamespace, KeySpace, keyOf, MAX_RAW_KEY_LENGTH } from './key-space.js';

const LONG = process.env.FC_LONG === '1';
const space = new KeySpace('app');

/** Any JS string, lone surrogates included (fast-check's default strings are well-formed). */
const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('#', '=', ':', '\\', '*', 'a', '\uD800', '\uDC00', '\uFFFD'), maxLength: 12 }),
  fc.string({ unit: 'grapheme', minLength: 190, maxLength: 420 }),
);
const keyValue = fc.oneof(
  anyString,
  fc.integer(),
  fc.double(),
  fc.bigInt(),
  fc.boolean(),
  fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(fc.string(), fc.integer()), { maxKeys: 3 }),
);

describe('keyOf: the one key grammar', () => {
  it('keeps strings as they are and types everything else', () => {
    expect(keyOf('user:42')).toBe('user:42');
    expect(keyOf(42)).toBe('=n42');
    expect(keyOf('42')).toBe('42');
    expect(keyOf(42n)).toBe('=b42');
    expect(keyOf(true)).toBe('=t');
    expect(keyOf({ id: 1 })).toBe('={s2:id=n1}');
    expect(keyOf('=n42')).toBe('=s4:=n42');
  });

  it('names a one-argument call like its argument, other calls by their list', () => {
    expect(argsKey([42])).toBe(keyOf(42));
    expect(argsKey(['a'])).toBe(keyOf('a'));
    expect(argsKey([{ id: 1 }])).toBe(keyOf({ id: 1 }));
    expect(argsKey(['a', 1])).toBe('=s1:a,n1');
    expect(argsKey([])).toBe('=');
    expect(argsKey([['a', 1]])).not.toBe(argsKey(['a', 1]));
  });

  it('refuses null and undefined as explicit keys', () => {
    expect(() => keyOf(undefined)).toThrow(expect.objectContaining({ code: 'E_UNSERIALIZABLE_KEY' }));
    expect(() => keyOf(null)).toThrow(expect.objectContaining({ code: 'E_UNSERIALIZABLE_KEY' }));
  });

  it(`property: entry keys are injective over key values and argument lists (${LONG ? '1,000,000' : '20,000'} pairs)`, () => {
    fc.assert(
      fc.property(
        fc.oneof(
          keyValue.map((v) => ({ v })),
          fc.array(keyValue, { maxLength: 3 }).map((args) => ({ args })),
        ),
        fc.oneof(
          keyValue.map((v) => ({ v })),
          fc.array(keyValue, { maxLength: 3 }).map((args) => ({ args })),
        ),
        (a, b) => {
          const ka = 'v' in a ? space.entry('ns', a.v) : space.call('ns', a.args);
          const kb = 'v' in b ? space.entry('ns', b.v) : space.call('ns', b.args);
          const same =
            'v' in a
              ? 'v' in b
                ? keyOf(a.v) === keyOf(b.v)
                : keyOf(a.v) === argsKey(b.args)
              : argsKey(a.args) === ('v' in b ? keyOf(b.v) : argsKey(b.args));
          return (ka === kb) === same;
        },
      ),
      { numRuns: LONG ? 1_000_000 : 20_000 },
    );
  });

  it('property: every stored key is well-formed (nothing is mangled on the wire) and inside the prefix', () => {
    fc.assert(
      fc.property(keyValue, (v) => {
        const k = space.entry('ns', v);
        return space.owns(k) && k.startsWith('app:ns:') && (k as string & { isWellFormed(): boolean }).isWellFormed();
      }),
      { numRuns: 5_000 },
    );
  });

  it('stores long and ill-formed keys in the long form, still distinct', () => {
    const long = 'x'.repeat(MAX_RAW_KEY_LENGTH + 1);
    expect(space.entry('ns', long)).toMatch(/^app:ns:#~x{150}~[A-Za-z0-9_-]{43}$/);
    expect(space.entry('ns', '\uD800')).not.toBe(space.entry('ns', '\uFFFD'));
    expect(space.entry('ns', '#a')).toBe('app:ns:##a');
  });
});

describe('KeySpace.composed: the prefixes invalidatePrefix clears', () => {
  const part = fc.oneof(
    fc.string({ unit: fc.constantFrom('a', ':', '\\', '#', '=', '*', '\uD800', '\uFFFD'), maxLength: 10 }),
    fc.string({ maxLength: 90 }),
    fc.integer(),
  );

  it('property: every key composed from the parts (and more) starts with one of them; other first parts do not', () => {
    fc.assert(
      fc.property(
        fc.array(part, { minLength: 1, maxLength: 3 }),
        fc.array(part, { minLength: 1, maxLength: 6 }),
        part,
        (parts, more, other) => {
          const prefixes = space.composed('ns', parts);
          const key = space.entry('ns', composeKey(...parts, ...more));
          if (!prefixes.some((p) => key.startsWith(p))) return false;
          if (composeKey(other) === composeKey(parts[0] as string | number)) return true;
          // A short key of another first part is never covered (long forms may be, by a short head: an over-clear).
          const stranger = space.entry('ns', composeKey(other, ...parts.slice(1)));
          return stranger.startsWith('app:ns:#~') || !prefixes.some((p) => stranger.startsWith(p));
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it('escapes a leading # and = so composed keys keep their prefix', () => {
    expect(composeKey('#a', 1)).toBe('\\#a:1');
    expect(composeKey('=n1')).toBe('\\=n1');
    expect(space.entry('ns', composeKey('=n1', 2)).startsWith(space.composed('ns', ['=n1'])[0] as string)).toBe(true);
  });
});

describe('names', () => {
  it('refuses namespaces outside the name rules, with the rule in the message', () => {
    for (const bad of ['', '*', 'a:b', '__tag', 'x'.repeat(65), '..*', 42, undefined])
      expect(() => checkNamespace(bad)).toThrow(expect.objectContaining({ code: 'E_MISUSE' }));
    expect(checkNamespace('user.v2_x-y')).toBe('user.v2_x-y');
  });

  it('builds every reserved shape inside the prefix', () => {
    expect(space.tag('org:1')).toBe('app:__tag:org:1');
    expect(space.tag('\uD800')).not.toBe(space.tag('\uFFFD'));
    expect(space.lease('app:user:=n42')).toBe('app:__lease:user:=n42');
    expect(space.warm('Svc#m', 'v1')).toBe('app:__warm:Svc#m:v1');
    expect(space.channel).toBe('app:__bus');
    expect(space.owns('appx:user:1')).toBe(false);
    expect(space.owns('app:user:1')).toBe(true);
  });
});
