import {
  APICallError,
  InvalidArgumentError,
  InvalidMessageRoleError,
  InvalidPromptError,
  MessageConversionError,
  RetryError,
  UnsupportedFunctionalityError,
} from 'ai'

/** Statuses worth retrying: timeout, conflict, rate limit, and every server error (incl. 529). */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500
}

/** In-stream error types (Anthropic's `error.type`, OpenAI's `type`/`code`) that mean "your fault". */
const clientErrorTypes = new Set([
  'invalid_request_error',
  'authentication_error',
  'permission_error',
  'not_found_error',
  'request_too_large',
  'billing_error',
  'insufficient_quota',
  'invalid_api_key',
  'context_length_exceeded',
])

const MAX_DETAIL = 400

/** Why one attempt at a step failed, and whether trying again may help. */
export class StepFailure extends Error {
  override readonly name = 'StepFailure'
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly details: {
      status?: number
      retryAfterMs?: number
      kind: 'http' | 'stream' | 'idle'
      cause?: unknown
    },
  ) {
    super(message, { cause: details.cause })
  }
}

/** Classifies whatever the SDK reported (an `error` part or a thrown value). */
export function toStepFailure(error: unknown): StepFailure {
  if (error instanceof StepFailure) return error
  const inner = RetryError.isInstance(error) ? (error.lastError ?? error) : error
  if (APICallError.isInstance(inner)) {
    // A 2xx status here means the body failed mid-way (e.g. the socket was cut): a stream failure.
    const status =
      inner.statusCode !== undefined && inner.statusCode >= 300 ? inner.statusCode : undefined
    // e.g. OpenAI's 429 insufficient_quota: a retry cannot help.
    const clientError = errorTypes(inner.data).some((type) => clientErrorTypes.has(type))
    const retryable =
      inner.isRetryable && !clientError && (status === undefined || isRetryableStatus(status))
    const retryAfterMs = parseRetryAfter(inner.responseHeaders)
    const midStream = inner.statusCode !== undefined && status === undefined
    const reason = midStream && inner.cause instanceof Error ? `: ${inner.cause.message}` : ''
    return new StepFailure(clip(`${inner.message || 'request failed'}${reason}`), retryable, {
      kind: midStream ? 'stream' : 'http',
      cause: inner,
      ...(status !== undefined && { status }),
      ...(retryAfterMs !== undefined && { retryAfterMs }),
    })
  }
  const types = errorTypes(error)
  const status = types.includes('overloaded_error') ? 529 : undefined
  const retryable = !types.some((type) => clientErrorTypes.has(type)) && !isRequestBug(error)
  return new StepFailure(clip(describeStreamError(error)), retryable, {
    kind: 'stream',
    cause: error,
    ...(status !== undefined && { status }),
  })
}

/** `type` and `code` of a provider's error body (`{error: {type, code}}` or `{type, code}`). */
function errorTypes(data: unknown): string[] {
  if (typeof data !== 'object' || data === null) return []
  const record = data as Record<string, unknown>
  if (typeof record.error === 'object' && record.error !== null) return errorTypes(record.error)
  return [record.code, record.type].filter((v): v is string => typeof v === 'string')
}

/** The message of an in-stream error: an Error, a provider object, a string. */
function describeStreamError(error: unknown): string {
  if (error instanceof Error) return error.message
  if (typeof error !== 'object' || error === null) return String(error)
  const record = error as Record<string, unknown>
  if (typeof record.error === 'object' && record.error !== null) {
    return describeStreamError(record.error)
  }
  const type = [record.type, record.code].find((v): v is string => typeof v === 'string')
  const message = typeof record.message === 'string' ? record.message : JSON.stringify(error)
  return type === undefined ? message : `${type}: ${message}`
}

/** Errors in what we asked for (not in the answer): sending it again cannot help. */
function isRequestBug(error: unknown): boolean {
  return [
    InvalidArgumentError,
    InvalidMessageRoleError,
    InvalidPromptError,
    MessageConversionError,
    UnsupportedFunctionalityError,
  ].some((kind) => kind.isInstance(error))
}

/** `retry-after-ms` (milliseconds) or `retry-after` (seconds or an HTTP date), if present. */
export function parseRetryAfter(
  headers: Record<string, string> | undefined,
  now = Date.now(),
): number | undefined {
  if (headers === undefined) return undefined
  const ms = Number.parseFloat(headers['retry-after-ms'] ?? '')
  if (Number.isFinite(ms) && ms >= 0) return ms
  const value = headers['retry-after']
  if (value === undefined) return undefined
  const seconds = Number.parseFloat(value)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

function clip(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim()
  return oneLine.length > MAX_DETAIL ? `${oneLine.slice(0, MAX_DETAIL)}…` : oneLine
}
