import { expect } from 'vitest'
import { STACK_FRAME, show, type CliResult } from './world.js'

/** One error message (safe-coder's, or commander's for usage), a fix, no stack. */
export function expectCleanError(result: CliResult, code: number | number[], names?: RegExp): void {
  const text = result.stderr
  expect(Array.isArray(code) ? code : [code], show(result)).toContain(result.exitCode)
  expect(text, show(result)).not.toMatch(STACK_FRAME)
  // Progress notes ("safe-coder: session s-…: copied 3 files") are not errors.
  const errors = text.split('\n').filter(
    (l) =>
      /^(safe-coder: |error: )/.test(l) &&
      // …nor is the warning that a microVM runs under TCG here.
      !/^safe-coder: (session s-|exit |WARNING: |\s)/.test(l),
  )
  expect(errors, `exactly one error line:\n${show(result)}`).toHaveLength(1)
  expect(text, `a fix (hint: or --help):\n${show(result)}`).toMatch(/hint: |--help/)
  const lines = text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('safe-coder: WARNING: '))
  expect(lines.length, show(result)).toBeLessThanOrEqual(6)
  if (names !== undefined) expect(text, show(result)).toMatch(names)
}
