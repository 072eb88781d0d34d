import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Below this the ports are privileged or commonly taken by services. */
const LOWEST = 10_000;

/**
 * The kernel's ephemeral range (source ports of outgoing connections, and what listening on port 0 hands out).
 * A port from it can be taken by any client connection — the suite opens thousands — between the check and the
 * bind (seen: a Cluster node's bus port, taken before redis-server bound it). Ports below it are handed out by no
 * one but us.
 */
function ephemeralStart(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return low !== undefined && Number.isInteger(low) && low > LOWEST + 1_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

const RANGE_END = ephemeralStart();

/** Whether `port` can be listened on right now. */
function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * A TCP port free right now on `host`, picked at random below the ephemeral range (so no outgoing connection can take
 * it before the caller binds it) and checked by listening on it. Another test process picking the same random port in
 * the same few milliseconds is the only race left (one in ~20,000).
 *
 * @param host interface to probe. @default '127.0.0.1'
 * @example
 * const port = await freePort();
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (RANGE_END - LOWEST));
    if (await bindable(port, host)) return port;
  }
  throw new Error(`freePort: no free port on ${host} below ${RANGE_END} after 200 tries`);
}
