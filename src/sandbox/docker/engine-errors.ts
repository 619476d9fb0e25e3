import { sleep } from '../../shared/abort.js'
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

/**
 * The engine refused because it holds the container paused: an exec ("… is paused, unpause the
 * container before exec") or a pause ("… is already paused").
 */
export function isPausedRefusal(error: unknown): boolean {
  return statusOf(error) === 409 && /(is|already) paused/i.test(engineMessage(error))
}

/**
 * Starts an exec (`start`) when the engine may still call the container paused although
 * Safe Coder's own freeze is over: dockerd applies the runtime's pause and resume events
 * asynchronously, so right after an `unpause` (a commit's thaw) a late "paused" event can mark
 * the running container paused for a moment, and an exec created then is refused. Such a
 * refusal is tried again for a few seconds; a container someone else paused stays refused.
 */
export async function startUnpaused<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start()
    } catch (error) {
      if (attempt >= PAUSED_ATTEMPTS || !isPausedRefusal(error)) throw error
      await sleep(Math.min(1000, 50 * 2 ** attempt))
    }
  }
}

/** Up to about 5 s of waiting in all. */
const PAUSED_ATTEMPTS = 8

/** Wraps a failed Engine API call on a sandbox into a SafeCoderError that says what to do. */
export function sandboxError(id: string, doing: string, error: unknown): SafeCoderError {
  if (error instanceof SafeCoderError) return error
  if (isPausedRefusal(error)) {
    return new SafeCoderError(
      'SANDBOX_FAILED',
      `Sandbox ${id.slice(0, 12)} is paused, so nothing can run in it (${doing}): ${engineMessage(error)}.`,
      {
        hint: `Safe Coder unpauses what it paused; something else paused this one. Run \`docker unpause ${id.slice(0, 12)}\` (or \`podman unpause\`), then try again.`,
        cause: error,
        data: { sandboxId: id },
      },
    )
  }
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
