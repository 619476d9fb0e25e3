import { describe, expect, it } from 'vitest'
import { execCommandLine, quoteArg } from '../../../src/cli/double-dash.js'

function usage(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    expect((error as { code?: string }).code).toBe('USAGE')
    return (error as Error).message
  }
  throw new Error('expected a USAGE error')
}

describe('execCommandLine', () => {
  it('takes the command after --', () => {
    expect(execCommandLine({ before: [], after: ['ls', '-la'], dashed: true })).toEqual([
      'ls',
      '-la',
    ])
  })

  it('without -- says where the command goes, typed back ready to run', () => {
    expect(usage(() => execCommandLine({ before: ['ls', '-la'], after: [], dashed: false }))).toBe(
      'put the command after `--`: safe-coder exec -- ls -la',
    )
    expect(
      usage(() =>
        execCommandLine({
          before: ['sh', '-c', 'echo hi'],
          after: [],
          dashed: false,
        }),
      ),
    ).toContain("safe-coder exec -- sh -c 'echo hi'")
  })

  it('names an unknown option given before --', () => {
    expect(
      usage(() =>
        execCommandLine({
          before: ['--sesion', 'x', '--'],
          after: ['ls'],
          dashed: true,
        }),
      ),
    ).toContain('unknown option --sesion')
  })

  it('quotes what a shell would split', () => {
    expect(quoteArg('a/b.txt')).toBe('a/b.txt')
    expect(quoteArg("it's")).toBe(`'it'\\''s'`)
  })
})
