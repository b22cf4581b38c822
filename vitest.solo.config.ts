import { defineConfig } from 'vitest/config'

// Tests that need the machine to themselves: they restart its services (PostgreSQL) or load
// both cores for a minute. They run one at a time, after the main suite.
export default defineConfig({
  test: {
    // Fails the run if a test leaves a process running or a temporary folder behind.
    globalSetup: ['test/global-setup.ts'],
    include: ['test/**/*.solo.test.ts'],
    testTimeout: 240_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
})
