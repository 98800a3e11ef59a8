/**
 * The unit tests as Stryker runs them: no servers, and no type check per mutant (a mutant that
 * does not type-check must be killed by behaviour, not by the compiler, or the score would lie).
 *
 * Only the test files whose subject is a mutated module run. The others (CLI, GPU activities,
 * charts, MLflow client, replayed histories) import the mutated modules only on the way, spawn
 * Python or load the AWS SDK and the Temporal worker: on a 2-core machine they made each mutant
 * cost seconds more, and each mutant that runs at module load (a zod schema) a minute. Leaving a
 * test file out can only lower the score, never raise it.
 * @type {import('jest').Config}
 */
const SUBJECTS = [
  'comparison-labels',
  'early-stopping',
  'executor-failures',
  'loader',
  'log-batch',
  'metric-keys',
  'model-reference',
  'naming',
  'oom-halving',
  'pool-policy',
  'promotion',
  'scenario-input',
  'scenario-references',
  'schema',
  'schema-fields',
  'site-catalogue',
  'sweep-search-schema',
  'sweep-space',
  'sweep-slots',
  'sweep-trials',
  'tracking-fields',
  'validate',
];

module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: SUBJECTS.map((name) => `<rootDir>/test/unit/${name}.test.ts`),
};
