// Lint guards determinism in workflows/ (no Node built-ins, no floating promises anywhere).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.gflow/**', 'coverage/**', 'reports/**', '.stryker-tmp/**', '*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // scenarios/ and legacy/ run inside workflows (validation, naming, sweep trials, wrap plans); only their loaders read files
    files: ['workflows/**/*.ts', 'common/contract.ts', 'common/failure-types.ts', 'scenarios/**/*.ts', 'legacy/**/*.ts'],
    ignores: ['scenarios/loader.ts', 'scenarios/site-catalogue-loader.ts', 'scenarios/pool-policy-loader.ts', 'legacy/loader.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: nodeBuiltins.map((name) => ({ name, message: 'workflow code must be deterministic: no Node built-ins' })) }],
    },
  },
  {
    // the fleet page: plain browser JS outside the tsconfig (server/public is served as written)
    files: ['server/public/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'module',
      globals: { window: 'readonly', document: 'readonly', fetch: 'readonly', URL: 'readonly', URLSearchParams: 'readonly' },
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off', '@typescript-eslint/no-unsafe-member-access': 'off', '@typescript-eslint/unbound-method': 'off' },
  },
);
