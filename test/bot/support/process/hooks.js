// ESM loader hooks that let a test spawn the bot's TypeScript entry (apps/bot/src/main.ts) as a real process:
// transpile project .ts files with @swc/core (legacy decorators + metadata, as Nest needs), map `nestjs-tiercache`
// (and its /metrics and /health doors) to the library source, and `./x.js` to `./x.ts` when that file exists.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transform } from '@swc/core';

const LIBRARY_SRC =
  process.env['BOT_TEST_LIBRARY_SRC'] ?? fileURLToPath(new URL('../../../../libs/cache/src/', import.meta.url));

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

function library(entry) {
  const file = `${LIBRARY_SRC.replace(/\/$/, '')}/${entry}.ts`;
  return existsSync(file) ? pathToFileURL(file).href : pathToFileURL(`${LIBRARY_SRC.replace(/\/$/, '')}/index.ts`).href;
}

export async function resolve(specifier, context, nextResolve) {
  const door = /^nestjs-tiercache(?:\/(metrics|health))?$/.exec(specifier);
  if (door) return { url: library(door[1] ?? 'index'), shortCircuit: true };
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
