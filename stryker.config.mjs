// @ts-check
/**
 * Mutation testing of the pure modules (`npm run mutation`, not part of `npm test`): StrykerJS
 * changes one operator or literal at a time and reruns the unit tests that cover it; a mutant
 * that no test notices marks a gap in the tests. scripts/mutation-score.mjs turns the report
 * into bench/results/mutation.json and checks the goal (≥ 85 % killed).
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'jest',
  jest: { projectType: 'custom', configFile: 'jest.mutation.config.js', enableFindRelatedTests: true },
  coverageAnalysis: 'perTest',
  // Static mutants sit in code that runs once, at module load (the zod schema's builders, regex
  // and key tables): Stryker can only test one by rerunning every test file that imports the
  // module, a minute each on 2 cores, so they are ~25 % of the mutants and most of the time (hours).
  // They are left out of the score by default (mutation.json says how many);
  // GF_MUTATION_STATIC=1 counts them too.
  ignoreStatic: process.env.GF_MUTATION_STATIC !== '1',
  mutate: [
    'scenarios/**/*.ts',
    'workflows/promotion-gate.ts',
    'workflows/oom-halving.ts',
    'workflows/early-stopping.ts',
    'workflows/sweep-slots.ts',
    'workflows/comparison-metrics.ts',
    'workflows/comparison-labels.ts',
    'activities/tracking/log-batch.ts',
    'activities/gpu/executor-failures.ts',
  ],
  // Anchored at the root: a bare 'reports' would also drop activities/reports/ from the sandbox.
  ignorePatterns: ['/.venv', '/dist', '/.gflow', '/bench/results', '/reports', '/coverage'],
  reporters: ['json', 'clear-text', 'progress'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  concurrency: 2,
  timeoutMS: 5000,
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
