import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**', 'test/e2e/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          // Hang detectors, not performance budgets: a test waits on events, and a loaded CI machine
          // (two cores, other containers busy) can take several times longer than an idle one.
          testTimeout: 600_000,
          hookTimeout: 600_000,
          // Containers share one daemon and two cores: run integration files one at a time.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
})
