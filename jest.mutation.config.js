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
};
