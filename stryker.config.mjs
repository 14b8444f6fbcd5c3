// Mutation testing, one module at a time (npm run test:mutation, which runs scripts/mutation.ts):
// Stryker changes the module's code one mutant at a time and runs the module's in-process tests
// (vitest.mutation.config.ts); a mutant no test notices "survives". Not run by CI (about an hour
// here); the scores are in the README.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  // Per-test coverage is not collected with vitest 4 by this Stryker (the last that runs on
  // Node 20), so every mutant runs its module's tests: they are picked to be few and fast.
  coverageAnalysis: 'off',
  // Error-message wording is not a guarantee (the codes are, and are tested): string literals
  // are not mutated.
  mutator: { excludedMutations: ['StringLiteral'] },
  ignorePatterns: ['dist', 'bench/results', 'test-results', '.tmp', 'reports', 'node_modules/.cache'],
  concurrency: 2,
  timeoutMS: 15_000,
  reporters: ['clear-text', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: '.tmp/stryker',
  cleanTempDir: true,
}
