// Proves nestjs-tiercache is a real package: `npm pack` of libs/cache (its prepack builds dist), installed into fresh
// apps OUTSIDE the monorepo: an ESM Nest 12 app with the pinned peers (boots a plain-JS app, type-checks a strict
// TypeScript consumer), a CommonJS app (tsc `module: commonjs`, so `require()`) on the oldest majors the peer ranges
// claim (Nest 11, @nestjs/event-emitter 3, ioredis 5) against a real redis-server, and the package README's install
// lines and quick start, built and run as pasted. Needs the npm registry (or a warm npm cache): an unreachable one
// fails beforeAll. The three installs run side by side.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RedisServer } from '../harness/redis-server.js';
import { freePort } from '../harness/free-port.js';
import { waitFor } from '../harness/wait-for.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LIB = join(ROOT, 'libs/cache');
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const TSC = join(ROOT, 'node_modules/.bin/tsc');

const SETUP_TIMEOUT_MS = 240_000;
const OUTPUT_TAIL_CHARS = 4000;
const TEST_TIMEOUT_MS = 150_000; // a child process runs in the test (node boots Nest; tsc checks every .d.ts: ~15-45 s)

interface PackageJson {
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  exports?: Record<string, unknown>;
  license?: string;
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

/** Runs a command with extra environment variables (on top of the clean child environment). */
function runWithEnv(
  command: string,
  args: readonly string[],
  cwd: string,
  extra: Record<string, string>,
  timeoutMs: number,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, env: { ...childEnv(), ...extra }, timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error === null) return resolve({ stdout, stderr, code: 0 });
      reject(new Error(`\`${command} ${args.join(' ')}\` failed: ${error.message}\n${clip(stdout)}\n${clip(stderr)}`));
    });
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

const NPM_INSTALL = [
  'install',
  '--no-audit',
  '--no-fund',
  '--prefer-offline',
  '--fetch-timeout=20000',
  '--fetch-retries=1',
  '--fetch-retry-mintimeout=1000',
  '--fetch-retry-maxtimeout=5000',
];

/** `npm install` in a consumer app; the error says what failed and whether the registry may be the cause. */
async function npmInstall(dir: string, specs: readonly string[], what: string): Promise<RunResult> {
  return run('npm', [...NPM_INSTALL, ...specs], dir, 150_000).catch((error: unknown) => {
    throw new Error(`npm install (${what}) failed (is the npm registry reachable?)\n${String(error)}`);
  });
}

/** The oldest majors the peer ranges claim, for the CommonJS app. */
const OLDEST = {
  '@nestjs/common': '11',
  '@nestjs/core': '11',
  '@nestjs/event-emitter': '3',
  ioredis: '5',
} as const;

/** The README's fenced blocks of a language under a `## heading`, in order. */
function readmeBlocks(readme: string, heading: string, lang: string): string[] {
  const start = readme.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`the package README has no "## ${heading}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1] ?? '');
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
  let cjsDir = '';
  let readmeDir = '';
  let readme = '';
  const readmeInstalls: string[] = [];
  let redis: RedisServer | undefined;

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
    const esmApp = npmInstall(appDir, specs, 'ESM app, pinned peers');

    // 3. A CommonJS app on the oldest majors the peer ranges claim.
    cjsDir = await mkdtemp(join(tmpdir(), 'tiercache-cjs-'));
    await writeFile(
      join(cjsDir, 'package.json'),
      JSON.stringify({ name: 'tiercache-cjs-consumer', version: '0.0.0', private: true }, null, 2),
    );
    const oldest = Object.entries(OLDEST).map(([name, major]) => `${name}@${major}`);
    const rest = requiredPeers.filter((p) => !(p in OLDEST)).map((name) => pinned(name, rootPkg.dependencies));
    const cjsApp = npmInstall(
      cjsDir,
      [tarball, ...oldest, ...rest, pinned('@types/node', rootPkg.devDependencies)],
      'CommonJS app, oldest majors',
    );

    // 4. The README's app: what a fresh `nest new` app has, then the README's install lines exactly as written
    // (one npm command each, in order: installing terminus after tiercache must not hit ERESOLVE), with the tarball
    // standing in for the registry's nestjs-tiercache.
    readmeDir = await mkdtemp(join(tmpdir(), 'tiercache-readme-'));
    readme = await readFile(join(unpacked, 'package/README.md'), 'utf8');
    await writeFile(
      join(readmeDir, 'package.json'),
      JSON.stringify({ name: 'tiercache-readme-app', version: '0.0.0', private: true, type: 'module' }, null, 2),
    );
    const readmeApp = (async () => {
      const fresh = ['@nestjs/common', '@nestjs/core', '@nestjs/platform-express', 'reflect-metadata', 'rxjs'];
      await npmInstall(
        readmeDir,
        [...fresh.map((name) => pinned(name, rootPkg.dependencies)), pinned('@types/node', rootPkg.devDependencies)],
        'README app, fresh Nest app',
      );
      for (const line of readmeBlocks(readme, 'Install', 'sh').join('\n').split('\n')) {
        if (!line.startsWith('npm i ')) continue;
        const packages = line.slice('npm i '.length).trim().split(/\s+/);
        readmeInstalls.push(line);
        await npmInstall(
          readmeDir,
          packages.map((name) => (name === 'nestjs-tiercache' ? tarball : name)),
          line,
        );
      }
    })();

    redis = await RedisServer.start();
    await Promise.all([esmApp, cjsApp, readmeApp]);
    await copyFile(join(FIXTURES, 'consumer-app.mjs'), join(appDir, 'main.mjs'));
    await copyFile(join(FIXTURES, 'consumer-types.ts'), join(appDir, 'consumer.ts'));
    await copyFile(join(FIXTURES, 'consumer-cjs.ts'), join(cjsDir, 'consumer.ts'));
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await redis?.stop();
    for (const dir of [packDir, appDir, cjsDir, readmeDir])
      if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('works in temp folders outside the monorepo', () => {
    for (const dir of [packDir, appDir, cjsDir, readmeDir]) expect(outside(dir)).toBe(true);
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

  it('ships README.md and LICENSE (MIT), as `npm pack --dry-run` lists them', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], LIB, 60_000);
    const [report] = JSON.parse(stdout) as { files: { path: string }[] }[];
    const listed = (report?.files ?? []).map((f) => f.path).sort();
    expect(listed).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/compat.js']));
    expect(listed).toEqual(tarEntries.map((e) => e.replace(/^package\//, '')).sort());
    expect(packedPkg.license).toBe('MIT');
    expect(await readFile(join(unpacked, 'package/LICENSE'), 'utf8')).toMatch(/^MIT License/);
    // What a new user looks for first (issue 11): the install line with peers, the indicator's class name, Terminus'
    // info/error fields in the /health sample, the isGlobal default, the migration table.
    expect(readme).toMatch(/npm i nestjs-tiercache @nestjs\/event-emitter ioredis/);
    expect(readme).toMatch(/CacheHealthIndicator/);
    expect(readme).toMatch(/"info": \{/);
    expect(readme).toMatch(/"error": \{/);
    expect(readme).toMatch(/\| `isGlobal` \| `false` \|/);
    expect(readme).toMatch(/\| @nestjs\/cache-manager \| nestjs-tiercache\/compat \|/);
  });

  it('exports every entry for import, require and default (with types), each file in the tarball', () => {
    const map = packedPkg.exports ?? {};
    for (const entry of ['.', './compat', './metrics', './health']) {
      const conditions = map[entry] as Record<string, string> | undefined;
      expect([entry, Object.keys(conditions ?? {})]).toEqual([entry, ['types', 'import', 'require', 'default']]);
      for (const file of Object.values(conditions ?? {})) expect(tarEntries).toContain(`package/${file.slice(2)}`);
    }
  });

  it('claims Nest 11 and 12, @nestjs/event-emitter 3 and 12, ioredis 5 and 6 (the CommonJS app runs the oldest)', () => {
    const peers = packedPkg.peerDependencies ?? {};
    expect(peers).toMatchObject({
      '@nestjs/common': '^11.0.0 || ^12.0.0',
      '@nestjs/core': '^11.0.0 || ^12.0.0',
      '@nestjs/event-emitter': '^3.0.0 || ^12.0.0',
      '@nestjs/terminus': '^11.0.0 || ^12.0.0',
      ioredis: '^5.0.0 || ^6.0.0',
    });
  });

  it(
    'runs a CommonJS app (tsc module: commonjs, require) on Nest 11, event-emitter 3 and ioredis 5 with Redis',
    async () => {
      const tsconfig = {
        compilerOptions: {
          target: 'ES2022',
          module: 'commonjs',
          lib: ['ES2023'],
          types: ['node'],
          strict: true,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          skipLibCheck: true,
          outDir: 'dist',
        },
        files: ['consumer.ts'],
      };
      await writeFile(join(cjsDir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
      await run(TSC, ['-p', 'tsconfig.json'], cjsDir, 120_000);
      const compiled = await readFile(join(cjsDir, 'dist/consumer.js'), 'utf8');
      expect(compiled).toMatch(/require\("nestjs-tiercache"\)/);
      expect(compiled).not.toMatch(/\bimport\(/);
      const env = { REDIS_URL: redis?.url ?? '' };
      const { stdout } = await runWithEnv('node', ['dist/consumer.js'], cjsDir, env, 30_000);
      const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
      expect(result.resolved).toBe(join(cjsDir, 'node_modules/nestjs-tiercache/dist/index.js'));
      expect([result.nest, result.eventEmitter, result.ioredis]).toEqual([
        expect.stringMatching(/^11\./),
        expect.stringMatching(/^3\./),
        expect.stringMatching(/^5\./),
      ]);
      expect(result).toMatchObject({
        first: { id: 42, loads: 1 },
        fromB: { id: 42, loads: 1 }, // the other instance read a's write from Redis
        loadsA: 1,
        dropped: true, // a's invalidation reached b's memory tier
        backend: 'tiered',
        redisConnected: true,
        compat: 'hello',
        wrapped: 'loaded',
      });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "builds and runs the README's install lines and quick start as pasted (ESM, Nest 12, Redis, /health)",
    async () => {
      expect(readmeInstalls).toEqual([
        'npm i nestjs-tiercache @nestjs/event-emitter ioredis',
        'npm i @nestjs/terminus @willsoto/nestjs-prometheus prom-client',
      ]);
      const files = readmeBlocks(readme, 'Quick start', 'ts');
      expect(files.length).toBeGreaterThanOrEqual(4);
      for (const source of files) {
        const path = /^\/\/ (src\/[\w./-]+\.ts)\n/.exec(source)?.[1];
        if (path === undefined) throw new Error(`a quick start block does not start with // src/<file>.ts:\n${source}`);
        await mkdir(dirname(join(readmeDir, path)), { recursive: true });
        await writeFile(join(readmeDir, path), source);
      }
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
          skipLibCheck: true,
          rootDir: 'src',
          outDir: 'dist',
        },
        include: ['src'],
      };
      await writeFile(join(readmeDir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
      await run(TSC, ['-p', 'tsconfig.json'], readmeDir, 120_000);

      const port = await freePort();
      const child = spawn('node', ['dist/main.js'], {
        cwd: readmeDir,
        env: { ...childEnv(), PORT: String(port), REDIS_URL: redis?.url ?? '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
      const url = (path: string): string => `http://127.0.0.1:${port}${path}`;
      try {
        await waitFor(async () => (await fetch(url('/health'))).ok, {
          timeoutMs: 20_000,
          intervalMs: 100,
          message: `the README app to answer /health (output: ${output})`,
        });
        const user = async (): Promise<unknown> => (await fetch(url('/users/42'))).json();
        expect(await user()).toEqual({ id: 42, name: 'user-42', loads: 1 });
        expect(await user()).toEqual({ id: 42, name: 'user-42', loads: 1 }); // a hit
        const put = await fetch(url('/users/42/name'), {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'Ada' }),
        });
        expect(put.status).toBe(200);
        expect(await user()).toEqual({ id: 42, name: 'Ada', loads: 2 }); // the event dropped the entry
        const health = await fetch(url('/health'));
        const body = (await health.json()) as Record<string, Record<string, Record<string, unknown>>>;
        expect(health.status).toBe(200);
        expect(body).toMatchObject({
          status: 'ok',
          info: { cache: { status: 'up', mode: 'up', backend: 'tiered', redis: { connected: true } } },
          error: {},
          details: { cache: { status: 'up', mode: 'up' } },
        });
      } finally {
        child.kill('SIGTERM');
        await exited;
      }
    },
    TEST_TIMEOUT_MS,
  );
});
