// Lets plain `node` run the TypeScript benchmarks: `node --import ./bench/register.js bench/cache.bench.ts`.
// Registers ts-hooks.js (an ESM loader that transpiles .ts with @swc/core, no type check).
import { register } from 'node:module';

register('./ts-hooks.js', import.meta.url);
