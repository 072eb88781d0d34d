// `node --import ./test/bot/support/process/register.js apps/bot/src/main.ts`: the project's one TypeScript loader
// (bench/ts-hooks.js: swc, the library's doors, BOT_TEST_LIBRARY_SRC to point at another copy of the library).
import { register } from 'node:module';

register('../../../../bench/ts-hooks.js', import.meta.url);
