/**
 * The unit tests as Stryker runs them: no servers, and no type check per mutant (a mutant that
 * does not type-check must be killed by behaviour, not by the compiler, or the score would lie).
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
  // These import none of the mutated modules (they drive Python charts and MOT scoring, or replay
  // recorded histories through a webpack bundle of the workflows): they could kill no mutant and
  // only slow Stryker's initial run.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/unit/replay-histories\\.test\\.ts$', '<rootDir>/test/unit/charts\\.test\\.ts$', '<rootDir>/test/unit/mot-metrics\\.test\\.ts$'],
};
