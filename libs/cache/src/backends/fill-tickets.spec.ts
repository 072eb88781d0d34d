import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { FillTicket } from './fill-tickets.js';
import { FillTickets } from './fill-tickets.js';

describe('FillTickets: fills in flight', () => {
  it('marks only the fills of the key written, however many are in flight', () => {
    const tickets = new FillTickets();
    const a1 = tickets.open('a');
    const a2 = tickets.open('a');
    const others = Array.from({ length: 64 }, (_, i) => tickets.open(`k${i}`));
    expect(tickets.size).toBe(66);
    tickets.staleKey('a');
    expect([tickets.isStale(a1), tickets.isStale(a2)]).toEqual([true, true]);
    expect(others.some((t) => tickets.isStale(t))).toBe(false);
    tickets.staleKey('absent');
    expect(others.some((t) => tickets.isStale(t))).toBe(false);
  });

  it('a fill opened after a change of its key is not stale by it', () => {
    const tickets = new FillTickets();
    const first = tickets.open('a');
    tickets.staleKey('a');
    const second = tickets.open('a');
    expect(tickets.close(second)).toBe(false);
    expect(tickets.close(first)).toBe(true);
  });

  it('closing twice has no effect, and nothing in flight forgets the changes', () => {
    const tickets = new FillTickets();
    const first = tickets.open('a');
    const second = tickets.open('a');
    tickets.staleKey('a');
    expect(tickets.close(first)).toBe(true);
    expect(tickets.close(first)).toBe(true);
    expect(tickets.size).toBe(1);
    expect(tickets.close(second)).toBe(true);
    expect(tickets.size).toBe(0);
    tickets.staleKey('a'); // nothing in flight: nothing to mark
    expect(tickets.close(tickets.open('a'))).toBe(false);
  });

  it('staleAll marks every fill in flight and none opened after', () => {
    const tickets = new FillTickets();
    const inside = [tickets.open('app:user:1'), tickets.open('app:user:2'), tickets.open('app:thread:1')];
    tickets.staleAll();
    const after = tickets.open('app:user:1');
    expect(inside.map((t) => tickets.close(t))).toEqual([true, true, true]);
    expect(tickets.close(after)).toBe(false);
  });

  it('past 4,096 keys changed while fills are in flight, every fill then in flight is stale (bounded memory)', () => {
    const tickets = new FillTickets();
    const held = tickets.open('held');
    for (let i = 0; i < 5_000; i++) tickets.staleKey(`k${i}`);
    expect(tickets.close(held)).toBe(true);
    const later = tickets.open('held');
    expect(tickets.close(later)).toBe(false);
  });

  it('agrees with a model: a fill is stale iff its key changed (or everything did) while it was open', () => {
    type Op = { t: 'open'; key: number } | { t: 'close'; pick: number } | { t: 'change'; key: number } | { t: 'all' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ t: fc.constant('open' as const), key: fc.nat(3) }),
      fc.record({ t: fc.constant('close' as const), pick: fc.nat(20) }),
      fc.record({ t: fc.constant('change' as const), key: fc.nat(3) }),
      fc.constant({ t: 'all' as const }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const tickets = new FillTickets();
        const open: { ticket: FillTicket; modelStale: boolean }[] = [];
        for (const o of ops) {
          if (o.t === 'open') open.push({ ticket: tickets.open(`k${o.key}`), modelStale: false });
          else if (o.t === 'change') {
            tickets.staleKey(`k${o.key}`);
            for (const x of open) if (x.ticket.key === `k${o.key}`) x.modelStale = true;
          } else if (o.t === 'all') {
            tickets.staleAll();
            for (const x of open) x.modelStale = true;
          } else if (open.length > 0) {
            const [x] = open.splice(o.pick % open.length, 1);
            expect(tickets.close(x!.ticket)).toBe(x!.modelStale);
          }
          expect(tickets.size).toBe(open.length);
        }
        for (const x of open) expect(tickets.close(x.ticket)).toBe(x.modelStale);
      }),
      { numRuns: 500 },
    );
  });
});
