// Runs tsc over test/types/decorator-types.ts: the decorators' types must accept every fitting declaration and
// reject every mismatch marked `@ts-expect-error` (an unused directive is an error too).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';

const run = promisify(execFile);

describe('decorator types tie key, tags, condition, ttl and invalidateOn to the method', () => {
  it('compiles the fitting declarations and rejects every mismatch', async () => {
    const tsc = new URL('../../node_modules/typescript/bin/tsc', import.meta.url).pathname;
    const project = new URL('./tsconfig.json', import.meta.url).pathname;
    const result = await run(process.execPath, [tsc, '-p', project], { timeout: 120_000 }).then(
      () => ({ code: 0, out: '' }),
      (err: { code?: number; stdout?: string }) => ({ code: err.code ?? 1, out: err.stdout ?? '' }),
    );
    expect(result.out).toBe('');
    expect(result.code).toBe(0);
  }, 150_000);
});
