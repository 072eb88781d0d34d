import { createServer } from 'node:net';

/**
 * Asks the kernel for a TCP port that is free right now on `host`, by listening on port 0 and closing again.
 * Another process could take the port before the caller binds it; on loopback in tests that race is negligible.
 *
 * @param host interface to probe. @default '127.0.0.1'
 * @example
 * const port = await freePort();
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close(() => reject(new Error(`freePort: unexpected listen address ${String(address)}`)));
        return;
      }
      server.close((error) => (error ? reject(error) : resolve(address.port)));
    });
  });
}
