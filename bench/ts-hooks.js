// ESM loader hooks for the benchmarks and for the processes the tests spawn (worker drills, the bot itself):
// transpile project .ts files with @swc/core (legacy decorators + decorator metadata, as the Nest code base is
// compiled), map `nestjs-tiercache` and its doors to the library source and `./x.js` to `./x.ts` when the TypeScript
// file exists. node_modules are left to Node.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transform } from '@swc/core';

// Where the library source is: this checkout's, unless a run points elsewhere (BOT_TEST_LIBRARY_SRC, e.g. a snapshot).
const LIBRARY_SRC = (
  process.env['BOT_TEST_LIBRARY_SRC'] ?? fileURLToPath(new URL('../libs/cache/src/', import.meta.url))
).replace(/\/$/, '');

/** `nestjs-tiercache` → index.ts, `nestjs-tiercache/<door>` → <door>.ts (compat, metrics, health, testing). */
function library(door) {
  const file = `${LIBRARY_SRC}/${door ?? 'index'}.ts`;
  return existsSync(file) ? pathToFileURL(file).href : undefined;
}

const SWC = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
    target: 'es2022',
    keepClassNames: true,
  },
  module: { type: 'es6' },
  sourceMaps: 'inline',
};

export async function resolve(specifier, context, nextResolve) {
  const door = /^nestjs-tiercache(?:\/([a-z]+))?$/.exec(specifier);
  const url = door ? library(door[1]) : undefined;
  if (url) return { url, shortCircuit: true };
  const parent = context.parentURL;
  if (parent?.endsWith('.ts') && /^\.{1,2}\//.test(specifier) && specifier.endsWith('.js')) {
    const ts = new URL(`${specifier.slice(0, -3)}.ts`, parent);
    if (existsSync(ts)) return { url: ts.href, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts') || url.includes('/node_modules/')) return nextLoad(url, context);
  const filename = fileURLToPath(url);
  const { code } = await transform(await readFile(filename, 'utf8'), { ...SWC, filename });
  return { format: 'module', source: code, shortCircuit: true };
}
