// `node --import ./test/bot/support/process/register.js apps/bot/src/main.ts`: see hooks.js.
import { register } from 'node:module';

register('./hooks.js', import.meta.url);
