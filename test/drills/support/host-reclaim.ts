import { readdirSync, readFileSync } from 'node:fs';

const KDAMONDS = '/sys/kernel/mm/damon/admin/kdamonds';

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * The kernel's DAMON memory reclaim, when it runs on this host: e.g. `DAMON paddr pageout on (kdamond 0)`, else
 * undefined. Measured on this workplace's machines: with it on, Redis's O(1) commands stall for 3–9 ms now and then
 * while Redis frees memory (a prefix clear of 1M keys), and an idle PING's p99.9 is ~1.5 ms; with it off, the same
 * clears keep another client's worst PING at 3–5 ms. The reports print it beside their PING figures.
 */
export function hostReclaim(): string | undefined {
  let names: string[];
  try {
    names = readdirSync(KDAMONDS).filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  const running = names.flatMap((name) => {
    if (read(`${KDAMONDS}/${name}/state`) !== 'on') return [];
    const context = `${KDAMONDS}/${name}/contexts/0`;
    const action = read(`${context}/schemes/0/action`);
    return [`DAMON ${read(`${context}/operations`) ?? '?'}${action ? ` ${action}` : ''} on (kdamond ${name})`];
  });
  return running.length > 0 ? running.join(', ') : undefined;
}
