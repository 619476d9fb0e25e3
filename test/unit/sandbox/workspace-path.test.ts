import { describe, expect, it } from 'vitest'
import { toWorkspacePath } from '../../../src/sandbox/workspace-path.js'
import { isSafeCoderError } from '../../../src/shared/errors.js'

describe('toWorkspacePath', () => {
  it.each([
    ['.', '/workspace'],
    ['', '/workspace'],
    ['src/a.ts', '/workspace/src/a.ts'],
    ['src/../b.ts', '/workspace/b.ts'],
    ['./x/', '/workspace/x'],
    ['/workspace', '/workspace'],
    ['/workspace/deep/../f', '/workspace/f'],
  ])('maps %j inside the workspace to %j', (input, expected) => {
    expect(toWorkspacePath(input)).toBe(expected)
  })

  it.each([
    '../../etc/passwd',
    '..',
    'a/../../b',
    '/etc/passwd',
    '/workspace/../etc',
    '/workspacex/a',
    'a\0b',
  ])('refuses %j with PATH_REJECTED', (input) => {
    let caught: unknown
    try {
      toWorkspacePath(input)
    } catch (error) {
      caught = error
    }
    expect(isSafeCoderError(caught, 'PATH_REJECTED')).toBe(true)
    expect((caught as Error).message).toContain(JSON.stringify(input))
  })
})
