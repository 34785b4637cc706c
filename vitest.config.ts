// Unit and integration tests; integration suites start their own carbon-cache (see test/helpers/carbon.ts).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Only bounds a hang: tests that start node + tsx processes and carbon-caches take many times longer on a busy
    // 2-core CI host than on an idle one. Real-time expectations live in the tests, with their own margins.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // Two files at once even on 2 cores (vitest's default would run one): most of a file's time is spent waiting on
    // carbon, child processes and sockets, so the suite takes about half as long, and CI stays near 10 minutes.
    maxWorkers: 2,
  },
});
