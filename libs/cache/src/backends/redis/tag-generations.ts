import { randomBytes } from 'node:crypto';
import type { TagStamp } from '../../codec/entry.codec.js';
import type { KeySpace } from '../../keys/key-space.js';
import type { RedisClient } from './redis-client.factory.js';

/**
 * Tags whose generation this process remembers.
 * @default 10000
 */
const MAX_KNOWN_TAGS = 10_000;

/**
 * Marks the stamp of an entry that its tag's index could not list (full): its generation follows the mark. Never part
 * of a generation (base64url and base36 characters), so such a stamp never equals a remembered generation.
 */
export const UNINDEXED = '~';

/** A stamp's generation without the {@link UNINDEXED} mark. */
function bare(gen: string): string {
  return gen.startsWith(UNINDEXED) ? gen.slice(UNINDEXED.length) : gen;
}

/**
 * The current generation of each tag (the value of the tag's generation key, `space.tag(tag)`), remembered in-process so
 * that a stamped entry costs no second round trip: an invalidation anywhere reaches this process through the bus
 * (which drops the tag here), and while the bus is not trusted nothing is remembered (every check asks Redis).
 * A remembered generation that disagrees with an entry is asked again before the entry is refused (the tag may
 * have expired and started over elsewhere). An answer is remembered only if no drop happened while it travelled.
 * @example const valid = await generations.current(stamps);
 */
export class TagGenerations {
  private readonly known = new Map<string, string>();
  /** Bumped on every drop: an answer sent before a drop may predate the invalidation and is not remembered. */
  private epoch = 0;
  private trusted = false;
  private readonly instance = randomBytes(9).toString('base64url');
  private seq = 0;

  constructor(
    private readonly client: RedisClient,
    private readonly space: KeySpace,
    private readonly max = MAX_KNOWN_TAGS,
  ) {}

  /**
   * Whether every stamp names its tag's current generation; synchronous when all of them are remembered. A stamp of
   * an entry its tag's index could not list ({@link UNINDEXED}) is always asked: no invalidation will tombstone that
   * entry, so a generation remembered here (while a bus message is still on its way) must not vouch for it.
   */
  current(stamps: readonly TagStamp[]): boolean | Promise<boolean> {
    let ask: TagStamp[] | undefined;
    for (const stamp of stamps) if (this.known.get(stamp.tag) !== stamp.gen) (ask ??= []).push(stamp);
    if (ask === undefined) return true;
    const asked = ask;
    return this.fetch(asked.map((s) => s.tag)).then((gens) => asked.every((s, i) => gens[i] === bare(s.gen)));
  }

  /** The generations of tags as Redis holds them now (null: none, every stamp of the tag is stale). */
  async fetch(tags: readonly string[]): Promise<(string | null)[]> {
    const epoch = this.epoch;
    const gens = await Promise.all(
      tags.map((tag) =>
        this.client.get(this.space.tag(tag)).catch((err: unknown) => {
          // Another type (a tag set left by an older version): no generation; the next write replaces it.
          if (err instanceof Error && err.message.startsWith('WRONGTYPE')) return null;
          throw err;
        }),
      ),
    );
    tags.forEach((tag, i) => this.learn(tag, gens[i] ?? null, epoch));
    return gens;
  }

  /** A fresh candidate generation: unique across processes (random instance part) and within one (counter). */
  candidate(): string {
    return `${this.instance}${(++this.seq).toString(36)}`;
  }

  /** The epoch to pass to {@link learn} with an answer sent now. */
  get now(): number {
    return this.epoch;
  }

  /** Remembers a tag's generation answered by Redis, unless a drop happened since the question left (`epoch`). */
  learn(tag: string, gen: string | null, epoch: number): void {
    if (!this.trusted || epoch !== this.epoch) return;
    if (gen === null) {
      this.known.delete(tag);
      return;
    }
    if (!this.known.has(tag) && this.known.size >= this.max) {
      const oldest = this.known.keys().next();
      if (!oldest.done) this.known.delete(oldest.value);
    }
    this.known.set(tag, gen);
  }

  /** Forgets tags (invalidated here or elsewhere): the next check asks Redis. */
  drop(tags: readonly string[]): void {
    this.epoch++;
    for (const tag of tags) this.known.delete(tag);
  }

  /** Whether invalidations reach this process (the bus is subscribed); on any change everything is forgotten. */
  trust(trusted: boolean): void {
    this.epoch++;
    this.trusted = trusted;
    this.known.clear();
  }
}
