/**
 * Loads bench/peers/peers.js, first installing the peer packages (`npm ci --prefix bench/peers`) when any of them is
 * missing or not at the version bench/peers/package.json pins. They stay out of the project's dependencies: the
 * peers need ioredis 5 while tiercache uses 6.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type Peers = typeof import('./peers.js');

const dir = fileURLToPath(new URL('.', import.meta.url));

function stale(): string[] {
  const manifest = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  return Object.entries(manifest.dependencies)
    .filter(([name, pinned]) => {
      const installed = new URL(`./node_modules/${name}/package.json`, import.meta.url);
      return (
        !existsSync(installed) ||
        (JSON.parse(readFileSync(installed, 'utf8')) as { version: string }).version !== pinned
      );
    })
    .map(([name]) => name);
}

let loading: Promise<Peers> | undefined;

/** The peers module, installed on first use. Throws when `npm ci` fails (no registry, no npm). */
export function loadPeers(): Promise<Peers> {
  loading ??= (async () => {
    const missing = stale();
    if (missing.length > 0) {
      process.stderr.write(
        `bench: installing the peer libraries (npm ci --prefix bench/peers): ${missing.join(', ')}\n`,
      );
      const r = spawnSync('npm', ['ci', '--prefix', dir, '--no-audit', '--no-fund'], {
        stdio: ['ignore', 'inherit', 'inherit'],
        timeout: 300_000,
      });
      if (r.status !== 0)
        throw new Error(`npm ci --prefix bench/peers failed (${r.error?.message ?? `exit ${String(r.status)}`})`);
    }
    return import('./peers.js');
  })();
  return loading;
}
