import { describe, expect, it } from '@jest/globals';
import { ReplayQueue } from './replay-queue.js';

describe('ReplayQueue', () => {
  it('keeps keys, tags and prefixes together under the cap, however many distinct ones arrive', () => {
    const queue = new ReplayQueue(100);
    for (let i = 0; i < 10_000; i++) {
      queue.addKeys([`app:user:${i}`], 'app:user:');
      queue.addTags([`t${i}`], 'app');
      queue.addPrefix(`app:stats:${i}:`);
      expect(queue.size).toBeLessThanOrEqual(100);
    }
    const pending = queue.drain();
    // Everything widened into a clear of the whole module prefix.
    expect(pending).toEqual({ keys: [], tags: [], prefixes: ['app:'], overflowed: true });
    expect(queue.dropped).toBeGreaterThan(0);
    expect(queue.size).toBe(0);
  });

  it('a key that does not fit widens into its namespace, which drops the keys it covers and keeps the others', () => {
    const queue = new ReplayQueue(3);
    queue.addKeys(['app:user:1', 'app:user:2'], 'app:user:');
    queue.addKeys(['app:item:1'], 'app:item:');
    queue.addKeys(['app:user:3'], 'app:user:');
    expect(queue.size).toBe(2);
    queue.addKeys(['app:user:4'], 'app:user:');
    expect(queue.drain()).toEqual({ keys: ['app:item:1'], tags: [], prefixes: ['app:user:'], overflowed: true });
    expect(queue.dropped).toBe(3);
  });

  it('a tag that does not fit widens into the module prefix (tags span namespaces)', () => {
    const queue = new ReplayQueue(2);
    queue.addKeys(['app:user:1'], 'app:user:');
    queue.addTags(['a', 'b', 'c'], 'app');
    expect(queue.drain()).toEqual({ keys: [], tags: [], prefixes: ['app:'], overflowed: true });
  });

  it('skips what a queued prefix covers, and never widens to an empty prefix', () => {
    const queue = new ReplayQueue(10);
    queue.addPrefix('app:stats:42:');
    queue.addKeys(['app:stats:42:day-1', 'app:stats:43:day-1'], 'app:stats:');
    queue.addPrefix('app:stats:42:day-');
    expect(queue.drain()).toEqual({
      keys: ['app:stats:43:day-1'],
      tags: [],
      prefixes: ['app:stats:42:'],
      overflowed: false,
    });
    const tiny = new ReplayQueue(1);
    tiny.addPrefix('weird');
    tiny.addPrefix('odd');
    expect(tiny.drain().prefixes).not.toContain('');
  });
});
