import { SafeCoderError, errnoOf } from '../shared/errors.js'
import { displayPath } from './copy-errors.js'

export const syncHint =
  'Check that the project and the session directory are writable and have free space, then try again.'

/** `Sync failed: cannot write src/a.ts (EACCES).` — what failed, on what, and why. */
export function syncFailed(
  what: string,
  cause: unknown,
  data?: Record<string, unknown>,
): SafeCoderError {
  const why = errnoOf(cause) ?? (cause instanceof Error ? cause.message : String(cause))
  return new SafeCoderError('COPY_FAILED', `Sync failed: ${what} (${why}).`, {
    hint: syncHint,
    cause,
    ...(data === undefined ? {} : { data }),
  })
}

/** A short list of paths for a message: the first few, then how many more. */
export function listPaths(paths: readonly string[], limit = 5): string {
  const shown = paths.slice(0, limit).map(displayPath).join(', ')
  return paths.length > limit ? `${shown} and ${paths.length - limit} more` : shown
}
