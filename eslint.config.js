// ESLint flat config: syntax-level rules only (no type-aware linting; `tsc --noEmit` does the type checks).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const tests = ['test/**/*.ts', '**/*.spec.ts'];

export default defineConfig(
  { ignores: ['**/dist/', 'coverage/', '**/node_modules/', 'libs/cache/dist/', 'data/', '.tmp/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      'no-empty': ['error', { allowEmptyCatch: false }],
      'no-unused-vars': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
    },
  },
  {
    // No `any` in the library (and its public API); tests may use it where a fixture needs it.
    files: ['libs/cache/src/**/*.ts'],
    ignores: tests,
    rules: { '@typescript-eslint/no-explicit-any': 'error' },
  },
  { files: tests, rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  {
    // Library and app code log through Nest's Logger; the test harness may write to process.stderr.
    files: ['libs/**/*.{ts,js}', 'apps/**/*.{ts,js}'],
    rules: { 'no-console': 'error' },
  },
);
