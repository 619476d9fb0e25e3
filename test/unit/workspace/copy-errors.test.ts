import { describe, expect, it } from 'vitest'
import {
  copyFailed,
  displayPath,
  readHint,
  skipReasonOf,
} from '../../../src/workspace/copy-errors.js'

function systemError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: failed`), { code })
}

describe('copy-in errors', () => {
  it('say what failed, on what, why, and how to fix it', () => {
    const error = copyFailed('cannot read src/a.txt', systemError('EIO'), readHint)
    expect(error.code).toBe('COPY_FAILED')
    expect(`${error.message} ${error.hint ?? ''}`).toBe(
      "Copy-in failed: cannot read src/a.txt (EIO). Check the file's permissions, or exclude it with [workspace] exclude.",
    )
  })

  it('turn missing and forbidden paths into skip reasons, and nothing else', () => {
    expect(skipReasonOf(systemError('ENOENT'))).toBe('vanished')
    expect(skipReasonOf(systemError('ENOTDIR'))).toBe('vanished')
    expect(skipReasonOf(systemError('EACCES'))).toBe('unreadable')
    expect(skipReasonOf(systemError('EPERM'))).toBe('unreadable')
    expect(skipReasonOf(systemError('ENOSPC'))).toBeUndefined()
    expect(skipReasonOf(new Error('plain'))).toBeUndefined()
  })

  it('quote paths with control characters only', () => {
    expect(displayPath('src/a b.txt')).toBe('src/a b.txt')
    expect(displayPath('new\nline')).toBe('"new\\nline"')
  })
})
