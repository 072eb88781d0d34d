// Proves nestjs-tiercache is a real package: `npm pack` of libs/cache (its prepack builds dist), installed with its
// peers into a fresh app OUTSIDE the monorepo, boots a plain-JS ESM Nest app and type-checks a TypeScript consumer
// against the published .d.ts. Needs the npm registry (or a warm npm cache): an unreachable one fails beforeAll.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LIB = join(ROOT, 'libs/cache');
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const TSC = join(ROOT, 'node_modules/.bin/tsc');

const SETUP_TIMEOUT_MS = 180_000;
const OUTPUT_TAIL_CHARS = 4000;
const TEST_TIMEOUT_MS = 150_000; // a child process runs in the test (node boots Nest; tsc checks every .d.ts: ~15-45 s)

interface PackageJson {
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

// Long output keeps its head (tsc prints errors before --listFiles) and its tail (npm prints its error last).
const clip = (text: string): string =>
  text.length > 2 * OUTPUT_TAIL_CHARS
    ? `${text.slice(0, OUTPUT_TAIL_CHARS)}\n…\n${text.slice(-OUTPUT_TAIL_CHARS)}`
    : text;

// Children get a clean environment: no Jest NODE_OPTIONS, no npm_* variables of an enclosing `npm run`.
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'NODE_OPTIONS' || key.toLowerCase().startsWith('npm_')) continue;
    env[key] = value;
  }
  return { ...env, npm_config_update_notifier: 'false' };
}

/** Runs a command; rejects (with its output) on a timeout, or on a non-zero exit unless `allowExitCode`. */
function run(
  command: string,
  args: readonly string[],
  cwd: string,
  timeoutMs: number,
  allowExitCode = false,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd, env: childEnv(), timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error === null) return resolve({ stdout, stderr, code: 0 });
        if (allowExitCode && !error.killed && typeof error.code === 'number') {
          return resolve({ stdout, stderr, code: error.code });
        }
        const how = error.killed ? `killed after ${timeoutMs} ms` : `exit code ${String(error.code)}`;
        reject(
          new Error(
            `\`${command} ${args.join(' ')}\` (in ${cwd}) failed: ${how}\n--- stdout ---\n${clip(stdout)}\n--- stderr ---\n${clip(stderr)}`,
          ),
        );
      },
    );
  });
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

const BUILTINS = new Set(builtinModules);
const STATIC_IMPORT = /^\s*(?:import|export)\s(?:[^'"]*?\sfrom\s*)?['"]([^'"]+)['"]/gm;
const DYNAMIC_IMPORT = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The package a bare specifier names (`@scope/name/deep.js` → `@scope/name`), or undefined for relative/builtin. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  return name === undefined || BUILTINS.has(name) ? undefined : name;
}

const specifiers = (source: string, pattern: RegExp): string[] => [...source.matchAll(pattern)].map((m) => m[1] ?? '');

function importedPackages(sources: readonly string[], pattern: RegExp): Set<string> {
  const found = new Set<string>();
  for (const source of sources) {
    for (const specifier of specifiers(source, pattern)) {
      const name = packageOf(specifier);
      if (name !== undefined) found.add(name);
    }
  }
  return found;
}

/** Packages loaded by merely importing the entry: static imports of the modules it statically reaches. */
async function packagesLoadedByImport(entry: string): Promise<Set<string>> {
  const found = new Set<string>();
  const seen = new Set<string>();
  const queue = [entry];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of specifiers(await readFile(file, 'utf8'), STATIC_IMPORT)) {
      if (specifier.startsWith('.')) queue.push(resolve(dirname(file), specifier));
      const name = packageOf(specifier);
      if (name !== undefined) found.add(name);
    }
  }
  return found;
}

const outside = (dir: string): boolean => {
  const rel = relative(ROOT, dir);
  return rel.startsWith('..') || isAbsolute(rel);
};

describe('nestjs-tiercache as a published package', () => {
  const rootPkg: { dependencies: Record<string, string>; devDependencies: Record<string, string> } = {
    dependencies: {},
    devDependencies: {},
  };
  let packDir = '';
  let appDir = '';
  let tarball = '';
  let tarEntries: string[] = [];
  let packedPkg: PackageJson;
  let unpacked = '';
  let requiredPeers: string[] = [];

  beforeAll(async () => {
    Object.assign(rootPkg, await readJson<typeof rootPkg>(join(ROOT, 'package.json')));
    packDir = await mkdtemp(join(tmpdir(), 'tiercache-pack-'));
    appDir = await mkdtemp(join(tmpdir(), 'tiercache-app-'));

    // 1. A clean build, then the tarball exactly as `npm publish` would upload it (prepack runs the build).
    await rm(join(LIB, 'dist'), { recursive: true, force: true });
    await run('npm', ['pack', '--pack-destination', packDir], LIB, 120_000);
    const tgz = (await readdir(packDir)).filter((f) => f.endsWith('.tgz'));
    expect(tgz).toHaveLength(1);
    tarball = join(packDir, tgz[0] ?? '');
    tarEntries = (await run('tar', ['-tzf', tarball], packDir, 30_000)).stdout.split('\n').filter(Boolean);
    unpacked = join(packDir, 'unpacked');
    await mkdir(unpacked);
    await run('tar', ['-xzf', tarball, '-C', unpacked], packDir, 30_000);
    packedPkg = await readJson<PackageJson>(join(unpacked, 'package/package.json'));

    // 2. A fresh app: the tarball plus every required (non-optional) peer at the version the monorepo pins; no
    // optional peer, so the app proves the package works without them.
    await writeFile(
      join(appDir, 'package.json'),
      JSON.stringify({ name: 'tiercache-consumer', version: '0.0.0', private: true, type: 'module' }, null, 2),
    );
    const pinned = (name: string, versions: Record<string, string>): string => {
      const version = versions[name];
      if (version === undefined) throw new Error(`the root package.json pins no version of ${name}`);
      return `${name}@${version}`;
    };
    const optional = packedPkg.peerDependenciesMeta ?? {};
    requiredPeers = Object.keys(packedPkg.peerDependencies ?? {}).filter((p) => optional[p]?.optional !== true);
    const specs = [
      tarball,
      ...requiredPeers.map((name) => pinned(name, rootPkg.dependencies)),
      pinned('@types/node', rootPkg.devDependencies),
    ];
    await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--fetch-timeout=20000',
        '--fetch-retries=1',
        // npm 11 refuses a max below the min (default 10 s): set both.
        '--fetch-retry-mintimeout=1000',
        '--fetch-retry-maxtimeout=5000',
        ...specs,
      ],
      appDir,
      150_000,
    ).catch((error: unknown) => {
      throw new Error(`npm install in the consumer app failed (is the npm registry reachable?)\n${String(error)}`);
    });
    await copyFile(join(FIXTURES, 'consumer-app.mjs'), join(appDir, 'main.mjs'));
    await copyFile(join(FIXTURES, 'consumer-types.ts'), join(appDir, 'consumer.ts'));
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    for (const dir of [packDir, appDir]) if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('works in temp folders outside the monorepo', () => {
    expect(outside(packDir)).toBe(true);
    expect(outside(appDir)).toBe(true);
  });

  it('packs dist (JS + declarations) and package.json, never src/ or specs', () => {
    expect(tarEntries).toEqual(
      expect.arrayContaining(['package/package.json', 'package/dist/index.js', 'package/dist/index.d.ts']),
    );
    expect(tarEntries.filter((f) => f.startsWith('package/src/'))).toEqual([]);
    expect(tarEntries.filter((f) => /\.(spec|test)\.|tsconfig|\.tsbuildinfo$/.test(f))).toEqual([]);
    // Code ships only under dist/.
    expect(tarEntries.filter((f) => /\.[cm]?[jt]s$/.test(f) && !f.startsWith('package/dist/'))).toEqual([]);
    // Every module ships its declarations.
    const js = tarEntries.filter((f) => f.endsWith('.js'));
    expect(js.filter((f) => !tarEntries.includes(f.replace(/\.js$/, '.d.ts')))).toEqual([]);
  });

  it('declares every package its dist imports, and depends on nothing it does not import', async () => {
    const dist = join(unpacked, 'package/dist');
    const files = await listFiles(dist);
    const read = (suffix: string): Promise<string[]> =>
      Promise.all(files.filter((f) => f.endsWith(suffix)).map((f) => readFile(f, 'utf8')));
    const [js, dts] = await Promise.all([read('.js'), read('.d.ts')]);
    const deps = Object.keys(packedPkg.dependencies ?? {});
    const declared = new Set([...deps, ...Object.keys(packedPkg.peerDependencies ?? {})]);
    const required = new Set([...deps, ...requiredPeers]);

    // `import 'nestjs-tiercache'` must not load an optional peer: a consumer may (legitimately) not have it.
    expect([...(await packagesLoadedByImport(join(dist, 'index.js')))].filter((p) => !required.has(p)).sort()).toEqual(
      [],
    );
    // Anything imported anywhere (JS, lazily, or in declarations) is declared.
    const used = new Set([...importedPackages(js, STATIC_IMPORT), ...importedPackages(js, DYNAMIC_IMPORT)]);
    const types = new Set([...importedPackages(dts, STATIC_IMPORT), ...importedPackages(dts, DYNAMIC_IMPORT)]);
    expect([...used, ...types].filter((p) => !declared.has(p)).sort()).toEqual([]);
    // A dependency is installed into every consumer: it must be used.
    expect(deps.filter((d) => !used.has(d)).sort()).toEqual([]);
  });

  it(
    'boots a plain-JS ESM Nest app that imports only `nestjs-tiercache`, and caches',
    async () => {
      const { stdout } = await run('node', ['main.mjs'], appDir, 30_000);
      const line = stdout.trim().split('\n').at(-1) ?? '';
      const result = JSON.parse(line) as Record<string, unknown>;
      expect(fileURLToPath(String(result.resolved))).toBe(join(appDir, 'node_modules/nestjs-tiercache/dist/index.js'));
      expect(result).toMatchObject({
        loadsAfterSameKey: 1, // the second call was a hit
        loadsAfterOtherKey: 2, // another key is a miss
        first: { id: 42, name: 'user-42' },
        second: { id: 42, name: 'user-42' },
        backend: 'memory',
        user: { hits: 1, misses: 2 },
      });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'type-checks a strict NodeNext TypeScript consumer against the published .d.ts',
    async () => {
      const tsconfig = {
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023'],
          types: ['node'],
          strict: true,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          skipLibCheck: false,
          noEmit: true,
        },
        files: ['consumer.ts'],
      };
      await writeFile(join(appDir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
      const { stdout, code } = await run(TSC, ['-p', 'tsconfig.json', '--listFiles'], appDir, 120_000, true);
      const lines = stdout.split('\n').filter(Boolean);
      const errors = lines.filter((l) => /\berror TS\d+:/.test(l));
      // Tolerated, as a known limitation: declarations reachable from the root entry import types of optional peers
      // (prom-client, @nestjs/terminus), so a skipLibCheck: false consumer without them gets TS2307 there, and only
      // there (subpath entries such as `nestjs-tiercache/metrics` would remove it).
      const optional = Object.keys(packedPkg.peerDependencies ?? {}).filter((p) => !requiredPeers.includes(p));
      const missingOptional = (l: string): boolean =>
        l.startsWith('node_modules/nestjs-tiercache/dist/') &&
        optional.some((p) => l.includes(`error TS2307: Cannot find module '${p}'`));
      // Anything else fails: a consumer error, an unused @ts-expect-error (types degraded to any), a broken .d.ts.
      expect(errors.filter((l) => !missingOptional(l))).toEqual([]);
      expect(code === 0 || errors.length > 0).toBe(true);
      const listed = lines.filter((l) => isAbsolute(l));
      expect(listed).toContain(join(appDir, 'node_modules/nestjs-tiercache/dist/index.d.ts'));
      // Nothing comes from the monorepo except TypeScript's own lib files.
      expect(listed.filter((f) => !outside(f) && !f.startsWith(join(ROOT, 'node_modules/typescript/lib/')))).toEqual(
        [],
      );
    },
    TEST_TIMEOUT_MS,
  );
});
