import { defineConfig } from 'vitest/config'

// Tests that stop and start this machine's services: run alone, after the main suite.
export default defineConfig({
  test: {
    include: ['test/**/*.disruptive.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
})
