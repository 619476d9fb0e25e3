import { SafeCoderError, errnoOf, isSafeCoderError } from '../../shared/errors.js'
import type { ErrorCode } from '../../shared/errors.js'
import { engineMessage } from './engine-errors.js'

/** One line of the Engine's JSON progress stream (pull, import). */
export interface EngineEvent {
  status?: string
  id?: string
  progress?: string
  error?: string
  errorDetail?: { message?: string }
}

/** The Engine reported a failure inside an otherwise successful (HTTP 200) stream. */
export class EngineStreamError extends Error {
  override readonly name = 'EngineStreamError'
}

/**
 * Reads a progress stream to its end, handing each event to `onEvent`. Rejects with
 * EngineStreamError on the first `error` event: the Engine reports failures in-band.
 */
export async function readEngineEvents(
  stream: NodeJS.ReadableStream,
  onEvent?: (event: EngineEvent) => void,
): Promise<EngineEvent[]> {
  const events: EngineEvent[] = []
  const decoder = new TextDecoder()
  let pending = ''
  const take = (line: string): void => {
    const text = line.trim()
    if (text === '') return
    let event: EngineEvent
    try {
      event = JSON.parse(text) as EngineEvent
    } catch {
      event = { status: text }
    }
    if (event.error !== undefined || event.errorDetail?.message !== undefined) {
      throw new EngineStreamError(event.errorDetail?.message ?? event.error ?? 'unknown error')
    }
    events.push(event)
    onEvent?.(event)
  }
  for await (const chunk of stream) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true })
    const lines = pending.split('\n')
    pending = lines.pop() ?? ''
    lines.forEach(take)
  }
  take(pending + decoder.decode())
  return events
}

const unreachable = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'EACCES',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
])

// Streaming calls (pull, import) carry no parsed JSON body: strip dockerode's "(HTTP code …) … - ".
export function engineReason(error: unknown): string {
  return engineMessage(error)
    .replace(/^\(HTTP code \d+\) [^-]*- /, '')
    .trim()
}

// One mapping for every image call: cancelled, daemon gone, or the caller's own failure code.
export function toEngineError(
  error: unknown,
  code: ErrorCode,
  what: string,
  signal?: AbortSignal,
): SafeCoderError {
  if (isSafeCoderError(error)) return error
  if (signal?.aborted === true) {
    return new SafeCoderError('ABORTED', `${what} was cancelled.`, { cause: error })
  }
  const errno = errnoOf(error)
  if (errno !== undefined && unreachable.has(errno)) {
    return new SafeCoderError(
      'BACKEND_UNAVAILABLE',
      `${what} failed: the Docker engine did not answer (${errno}).`,
      {
        cause: error,
        hint: 'Start the Docker daemon, or point DOCKER_HOST or [docker] socket at a running one.',
      },
    )
  }
  return new SafeCoderError(code, `${what} failed: ${engineReason(error)}`, { cause: error })
}
