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
  pings: number;
}

const url = process.argv[2];
if (!url) throw new Error('usage: ping-probe.ts <redisUrl>');
const redis = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
let maxMs = 0;
let pings = 0;
let running = true;

process.on('message', (msg: { cmd?: string }) => {
  if (msg.cmd !== 'window') return;
  process.send?.({ type: 'window', maxMs, pings } satisfies PingWindow);
  maxMs = 0;
  pings = 0;
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
  const ms = performance.now() - started;
  if (ms > maxMs) maxMs = ms;
  pings++;
  await sleep(1);
}
redis.disconnect();
