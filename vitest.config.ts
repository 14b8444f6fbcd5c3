import { defineConfig } from 'vitest/config'

// The soak test floods a tracker with 20,000 sockets and measures its memory and latency, so it
// runs alone after everything else (two cores: sharing them with the fleet tests made its
// latency bound measure the neighbours rather than the tracker).
const SOAK = 'test/hostile/soak.test.ts'

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real processes and sockets; two cores, so keep it modest.
    pool: 'forks',
    maxWorkers: 2,
    // The JSON report is what .ci/run counts from; the default reporter is for people.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: [SOAK], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'soak', include: [SOAK], sequence: { groupOrder: 1 } } },
    ],
  },
})
