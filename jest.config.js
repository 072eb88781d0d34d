// Native-ESM Jest (run with NODE_OPTIONS=--experimental-vm-modules): Nest 12 is ESM-only.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
      target: 'es2022',
      keepClassNames: true,
    },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  },
];

const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^nestjs-tiercache$': '<rootDir>/libs/cache/src/index.ts',
    '^nestjs-tiercache/(compat|metrics|health|testing)$': '<rootDir>/libs/cache/src/$1.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: { '^.+\\.(t|j)s$': swc },
  // @willsoto/nestjs-prometheus is CommonJS and require()s Nest: transform it too.
  transformIgnorePatterns: ['/node_modules/(?!(@nestjs|@willsoto)/)'],
  testEnvironment: 'node',
};

export default {
  // Global (Jest ignores testTimeout inside a project): integration tests start real servers on a loaded machine.
  testTimeout: 60_000,
  coverageDirectory: 'coverage',
  collectCoverageFrom: ['libs/cache/src/**/*.ts', 'apps/bot/src/**/*.ts', '!**/*.spec.ts', '!**/index.ts'],
  coverageReporters: ['text-summary', 'lcov'],
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/apps/**/*.spec.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.spec.ts'],
      testTimeout: 60_000,
      // scripts/test.sh runs the coherence run (3 app processes, PostgreSQL, injected faults) on its own afterwards,
      // so its load does not share the machine with every other suite.
      testPathIgnorePatterns:
        process.env.JEST_SKIP_COHERENCE === '1'
          ? ['/node_modules/', '/test/coherence/coherence\\.spec\\.ts$']
          : ['/node_modules/'],
    },
  ],
};
