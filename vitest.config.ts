import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // Fails the run if a test leaves a process running or a temporary folder behind.
    globalSetup: ['test/global-setup.ts'],
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Tests that need the machine to themselves run afterwards, alone: vitest.solo.config.ts.
    exclude: ['**/node_modules/**', 'test/**/*.solo.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Tests crossing sockets and child processes are heavy on a 2-core machine; run files
    // one or two at a time so timing-sensitive checks (leases, outages) are not starved.
    maxWorkers: 2,
  },
})
