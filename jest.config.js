const ESM_ONLY = ['cookie', 'content-disposition'];

/** @type {import('jest').Config} */
// tsconfig.json's `isolatedModules` makes ts-jest transpile each file on its own instead of building
// a type-checking program per test process (25 s → 1 s to load a unit test file here); types are
// checked once for the whole project by `tsc --noEmit` in scripts/test.sh.
const base = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
    // ES-module-only dependencies of fastify's inject (cookie) and @fastify/static (content-disposition):
    // Node 20 requires them natively, Jest's CommonJS runtime only once compiled
    [`/node_modules/(${ESM_ONLY.join('|')})/.+\\.js$`]: ['ts-jest', { tsconfig: { allowJs: true, module: 'commonjs' } }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'json'],
};

/** Projects whose files run Temporal workers: a worker left running when its file ends fails that file (test/support/worker-leaks.ts). */
const withWorkers = {
  testEnvironment: '<rootDir>/test/support/stack-environment.ts',
  setupFilesAfterEnv: ['<rootDir>/test/support/worker-registry.ts'],
};

/**
 * `unit` needs no server (pure modules, replay of committed histories); `stack` starts the real
 * Temporal, SeaweedFS and MLflow once for its files. A project's global setup runs only when one
 * of its tests is selected, so `npx jest --selectProjects unit` works with every server down.
 */
module.exports = {
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    // workflow logic with mocked activities; each file starts a Temporal dev server of its own (no global setup)
    { ...base, ...withWorkers, displayName: 'workflow-logic', testMatch: ['<rootDir>/test/workflow-logic/**/*.test.ts'] },
    {
      ...base,
      ...withWorkers,
      displayName: 'stack',
      testMatch: ['<rootDir>/test/stack/**/*.test.ts', '<rootDir>/test/workflows/**/*.test.ts', '<rootDir>/test/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};

