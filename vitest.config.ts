import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**', 'test/e2e/**'],
          // Also hang detectors: next to a CPU-burning container and a gauntlet of five VMs, a
          // unit test running a dozen syncs took over vitest's 5 s default.
          testTimeout: 120_000,
          hookTimeout: 120_000,
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
