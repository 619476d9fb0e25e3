import { SafeCoderError, errnoOf } from '../shared/errors.js'

export const readHint = "Check the file's permissions, or exclude it with [workspace] exclude."
export const writeHint =
  'Check that the session directory is writable and its disk has free space, then try again.'

/** `Copy-in failed: cannot read src/a.txt (EACCES).` — what failed, on what, and why. */
export function copyFailed(
  what: string,
  cause: unknown,
  hint: string,
  data?: Record<string, unknown>,
): SafeCoderError {
  const why = errnoOf(cause) ?? (cause instanceof Error ? cause.message : String(cause))
  return new SafeCoderError('COPY_FAILED', `Copy-in failed: ${what} (${why}).`, {
    hint,
    cause,
    ...(data === undefined ? {} : { data }),
  })
}

/** Disk-side failures point at the session directory; anything else at the project file. */
export function hintFor(error: unknown): string {
  const errno = errnoOf(error)
  return errno !== undefined && ['ENOSPC', 'EDQUOT', 'EROFS', 'EEXIST'].includes(errno)
    ? writeHint
    : readHint
}

/** The skip reason a failed read maps to, or undefined when the failure must stop the copy. */
export function skipReasonOf(error: unknown): 'vanished' | 'unreadable' | undefined {
  const errno = errnoOf(error)
  if (errno === 'ENOENT' || errno === 'ENOTDIR') return 'vanished'
  if (errno === 'EACCES' || errno === 'EPERM') return 'unreadable'
  return undefined
}

/** A path as it appears in a message: quoted only when it holds control characters. */
export function displayPath(rel: string): string {
  if (!hiddenChar.test(rel)) return rel
  // JSON quoting escapes C0 controls; bidi overrides and C1 controls need it spelled out.
  return JSON.stringify(rel).replace(
    hiddenChars,
    (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  )
}

/** Characters that could drive a terminal or reorder what a reviewer sees ("Trojan Source"). */
const hiddenSet =
  '\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069'
const hiddenChar = new RegExp(`[${hiddenSet}]`)
const hiddenChars = new RegExp(`[${hiddenSet}]`, 'g')
