import { SafeCoderError } from '../shared/errors.js'

/** Why stored bytes are not a valid object; the reader adds which object and which repository. */
export class CorruptObjectError extends Error {}

/** An object or its size declaration is over the reader's cap; it is refused before inflating. */
export class OversizedObjectError extends Error {}

/** The failure of reading `oid`, said the way the rest of the read side says it. */
export function toReadError(gitdir: string, oid: string, error: unknown): SafeCoderError {
  if (error instanceof SafeCoderError) return error
  if (error instanceof OversizedObjectError) {
    return new SafeCoderError(
      'COPY_FAILED',
      `Object ${oid} in ${gitdir} is too large to load at once: ${error.message}.`,
      {
        cause: error,
        hint: 'Recording streams files of any size, but this step needs the whole content in memory; lower [workspace] max_file_mb to record such files as too large instead.',
      },
    )
  }
  const why = error instanceof CorruptObjectError ? `: ${error.message}` : ''
  return new SafeCoderError('INTERNAL', `Cannot read object ${oid} from ${gitdir}${why}.`, {
    cause: error,
    hint: 'The audit repository may be damaged; run `safe-coder sessions` to inspect it.',
  })
}

/** The error for an object that is neither loose nor in any pack. */
export function missingObject(gitdir: string, oid: string): SafeCoderError {
  return new SafeCoderError('NOT_FOUND', `Object ${oid} is missing from ${gitdir}.`)
}
