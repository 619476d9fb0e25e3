import { SafeCoderError, errnoOf } from '../../shared/errors.js'

/** The HTTP status dockerode attaches to Engine API failures. */
export function statusOf(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'statusCode' in error) {
    const status = error.statusCode
    return typeof status === 'number' ? status : undefined
  }
  return undefined
}

/** The engine's own words ("No such container: …"), without dockerode's prefix. */
export function engineMessage(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'json' in error) {
    const json = error.json
    if (typeof json === 'object' && json !== null && 'message' in json) return String(json.message)
  }
  return error instanceof Error ? error.message : String(error)
}

/** 404 (no such container) and 409 (not running) mean the sandbox is gone, not a bug. */
export function isGone(error: unknown): boolean {
  const status = statusOf(error)
  return status === 404 || status === 409
}

/** Wraps a failed Engine API call on a sandbox into a SafeCoderError that says what to do. */
export function sandboxError(id: string, doing: string, error: unknown): SafeCoderError {
  if (error instanceof SafeCoderError) return error
  if (isGone(error)) {
    return new SafeCoderError(
      'SANDBOX_GONE',
      `Sandbox ${id} is gone (${doing}): ${engineMessage(error)}.`,
      {
        hint: 'The container was stopped or removed from outside. Start a new session, or resume it to get a fresh sandbox.',
        cause: error,
        data: { sandboxId: id },
      },
    )
  }
  const errno = errnoOf(error)
  if (
    errno === 'ECONNREFUSED' ||
    errno === 'ENOENT' ||
    errno === 'ECONNRESET' ||
    errno === 'EPIPE'
  ) {
    return new SafeCoderError(
      'SANDBOX_GONE',
      `Lost the Docker engine while ${doing} in sandbox ${id} (${errno}).`,
      {
        hint: 'Check that the Docker daemon is running (`docker info`); the session can be resumed once it is back.',
        cause: error,
        data: { sandboxId: id },
      },
    )
  }
  return new SafeCoderError(
    'SANDBOX_FAILED',
    `Docker engine error while ${doing} in sandbox ${id}: ${engineMessage(error)}.`,
    {
      cause: error,
      data: { sandboxId: id },
    },
  )
}
