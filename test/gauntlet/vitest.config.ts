import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

/**
 * The gauntlet (issue 7): escape, fault, bad-input and load cases through the built CLI. Its
 * files are `*.gauntlet.ts`, so the main `vitest run` (which collects `test/**\/*.test.ts`) never
 * picks them up. Run it with `npm run gauntlet` (scorecard) or
 * `npx vitest run --config test/gauntlet/vitest.config.ts`.
 */
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    name: 'gauntlet',
    include: ['test/gauntlet/**/*.gauntlet.ts'],
    // Hang detectors, not budgets: cases wait on events, and a loaded machine is slow.
    testTimeout: 900_000,
    hookTimeout: 900_000,
    // Sandboxes share one daemon and two cores: one file at a time, cases in order.
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
    fileParallelism: false,
    sequence: { concurrent: false },
  },
})
