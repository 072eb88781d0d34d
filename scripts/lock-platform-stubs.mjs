// The npm registry these machines reach does not serve every platform build of native packages (e.g.
// @swc/core-darwin-arm64), so `npm install` leaves them out of package-lock.json and `npm ci` then refuses the lock
// ("Missing: … from lock file"). This adds an entry for each such optional platform package, with the os/cpu/libc
// its name declares, so `npm ci` skips it on a non-matching machine, exactly as it would with the real metadata.
// Run after `npm install` changes the lock: `node scripts/lock-platform-stubs.mjs`.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;

const OS = ['darwin', 'linux', 'win32', 'android', 'freebsd', 'openharmony', 'sunos', 'netbsd', 'openbsd', 'aix'];
const CPU = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'loong64', 'riscv64', 'mips64el', 'wasm32'];

function platformOf(name) {
  const tail = name.split('/').pop();
  const parts = tail.split('-');
  const os = parts.find((p) => OS.includes(p));
  const cpu = parts.find((p) => CPU.includes(p));
  if (!os || !cpu) return undefined;
  const libc = /musl/.test(tail) ? 'musl' : /gnu/.test(tail) ? 'glibc' : undefined;
  return { os, cpu, libc };
}

let added = 0;
for (const [location, meta] of Object.entries(packages)) {
  for (const [dep, spec] of Object.entries(meta.optionalDependencies ?? {})) {
    const hoisted = `node_modules/${dep}`;
    const nested = `${location ? `${location}/` : ''}node_modules/${dep}`;
    if (packages[hoisted] || packages[nested]) continue;
    const platform = platformOf(dep);
    if (!platform || !/^\d+\.\d+\.\d+/.test(spec)) continue;
    packages[hoisted] = {
      version: spec,
      cpu: [platform.cpu],
      ...(meta.dev ? { dev: true } : {}),
      ...(platform.libc ? { libc: [platform.libc] } : {}),
      optional: true,
      os: [platform.os],
    };
    added++;
  }
}
const sorted = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
lock.packages = sorted;
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
process.stdout.write(`lock-platform-stubs: added ${added} platform entries\n`);
