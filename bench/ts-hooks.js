// ESM loader hooks for the benchmarks: transpile project .ts files with @swc/core (legacy decorators + decorator
// metadata, as the Nest code base is compiled), map `nestjs-tiercache` (and its /compat, /metrics, /health doors) to the library source and `./x.js` to
// `./x.ts` when the TypeScript file exists. node_modules are left to Node.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { transform } from '@swc/core';

const LIBRARY = new URL('../libs/cache/src/index.ts', import.meta.url).href;
const SUBPATHS = {
  'nestjs-tiercache/compat': new URL('../libs/cache/src/compat.ts', import.meta.url).href,
  'nestjs-tiercache/metrics': new URL('../libs/cache/src/metrics.ts', import.meta.url).href,
  'nestjs-tiercache/health': new URL('../libs/cache/src/health.ts', import.meta.url).href,
  'nestjs-tiercache/testing': new URL('../libs/cache/src/testing.ts', import.meta.url).href,
};

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
  if (specifier === 'nestjs-tiercache') return { url: LIBRARY, shortCircuit: true };
  if (specifier in SUBPATHS) return { url: SUBPATHS[specifier], shortCircuit: true };
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
