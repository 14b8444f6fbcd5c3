import { defineConfig } from 'vitest/config'

/**
 * The tests Stryker runs against each mutant of one module (scripts/mutation.ts sets
 * SHOAL_MUTATION_TESTS to that module's tests): only in-process tests, since a child process
 * runs the code without the mutant.
 */
export default defineConfig({
  test: {
    include: (process.env.SHOAL_MUTATION_TESTS ?? 'test/core/manifest.test.ts').split(','),
    testTimeout: 60_000,
  },
})
