import { describe, expect, it } from '@jest/globals';
import { clusterSlot } from './cluster-slot.js';

// Every expected slot below is what redis-server 7.0 answered to CLUSTER KEYSLOT.
describe('clusterSlot', () => {
  it.each([
    ['123456789', 12739],
    ['foo', 12182],
    ['bot:user:=n42', 12024],
    ['{user1000}.following', 3443],
    ['{user1000}.followers', 3443],
    ['héllo:{ü}x', 9552],
    ['🎉:1', 1098],
    ['{', 4092],
    ['}{x}', 16287],
    ['abc{def', 2899],
    // An empty first tag hashes the whole key (cluster-key-slot 1.1 hashes "c" here; Redis does not).
    ['a{}b{c}', 7353],
    ['', 0],
  ])('%j → %i', (key, slot) => {
    expect(clusterSlot(key)).toBe(slot);
  });
});
