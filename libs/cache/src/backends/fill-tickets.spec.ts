import { describe, expect, it } from '@jest/globals';
import { FillTickets } from './fill-tickets.js';

describe('FillTickets: fills in flight, by key', () => {
  it('marks only the fills of the key written, however many are in flight', () => {
    const tickets = new FillTickets();
    const a1 = tickets.open('a');
    const a2 = tickets.open('a');
    const others = Array.from({ length: 64 }, (_, i) => tickets.open(`k${i}`));
    expect(tickets.size).toBe(65);
    tickets.staleKey('a');
    expect([a1.stale, a2.stale]).toEqual([true, true]);
    expect(others.some((t) => t.stale)).toBe(false);
    tickets.staleKey('absent');
    expect(others.some((t) => t.stale)).toBe(false);
  });

  it('forgets a closed fill: a later write of its key marks only the fills still open', () => {
    const tickets = new FillTickets();
    const first = tickets.open('a');
    const second = tickets.open('a');
    const third = tickets.open('a');
    tickets.close(second);
    tickets.close(first);
    tickets.staleKey('a');
    expect([first.stale, second.stale, third.stale]).toEqual([false, false, true]);
    tickets.close(third);
    tickets.close(third); // twice: no effect
    expect(tickets.size).toBe(0);
    const fresh = tickets.open('a');
    expect(fresh.stale).toBe(false);
  });

  it('marks the fills of every key a predicate accepts (prefix clears, tag invalidations)', () => {
    const tickets = new FillTickets();
    const inside = [tickets.open('app:user:1'), tickets.open('app:user:2'), tickets.open('app:user:2')];
    const outside = tickets.open('app:thread:1');
    tickets.staleWhere((key) => key.startsWith('app:user:'));
    expect(inside.map((t) => t.stale)).toEqual([true, true, true]);
    expect(outside.stale).toBe(false);
  });
});
