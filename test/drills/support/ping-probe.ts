// A child process that PINGs a Redis back to back (one every millisecond) and reports the worst round trip of each
// window: the stall every other client of that Redis sees while the parent works. Run through the bench loader:
//   node --import ./bench/register.js test/drills/support/ping-probe.ts <redisUrl>
// IPC: the parent sends { cmd: 'window' }; the child answers { type: 'window', maxMs, pings } and starts a new one.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

/** The answer to `{ cmd: 'window' }`. */
export interface PingWindow {
  type: 'window';
  /** Worst PING round trip since the previous window, ms. */
  maxMs: number;
  /** The 99.9th percentile of the window's round trips, ms. */
  p999Ms: number;
  /** Round trips over 5 ms (the stall bar of issue #15) in the window. */
  over5: number;
  pings: number;
}

const url = process.argv[2];
if (!url) throw new Error('usage: ping-probe.ts <redisUrl>');
const redis = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
let samples: number[] = [];
let running = true;

process.on('message', (msg: { cmd?: string }) => {
  if (msg.cmd !== 'window') return;
  const sorted = samples.sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const over5 = sorted.length - sorted.findIndex((ms) => ms > 5);
  process.send?.({
    type: 'window',
    maxMs: sorted.at(-1) ?? 0,
    p999Ms: at(0.999),
    over5: sorted.some((ms) => ms > 5) ? over5 : 0,
    pings: sorted.length,
  } satisfies PingWindow);
  samples = [];
});
// The parent is gone (or closed the channel): stop.
process.on('disconnect', () => {
  running = false;
});

await redis.connect();
process.send?.({ type: 'ready' });
while (running) {
  const started = performance.now();
  await redis.ping();
  samples.push(performance.now() - started);
  await sleep(1);
}
redis.disconnect();
