/**
 * The closed set of operational failures. Each code maps to one exit status in `cli/main.ts`;
 * nothing else decides how Safe Coder exits.
 */
export const errorCodes = [
  'USAGE',
  'CONFIG_INVALID',
  'BACKEND_UNAVAILABLE',
  'IMAGE_MISSING',
  'IMAGE_BUILD_FAILED',
  'SANDBOX_FAILED',
  'SANDBOX_GONE',
  'PATH_REJECTED',
  'NOT_FOUND',
  'COPY_FAILED',
  'DISK_FULL',
  'SYNC_CONFLICT',
  'PROVIDER_FAILED',
  'STEP_LIMIT',
  'TIMEOUT',
  'ABORTED',
  'INTERNAL',
] as const

export type ErrorCode = (typeof errorCodes)[number]

export interface SafeCoderErrorOptions {
  /** What the user can do about it, one sentence. */
  hint?: string
  cause?: unknown
  /** Structured, serialisable details (paths, keys, ids). */
  data?: Record<string, unknown>
}

/** Plain-data form of an error, safe to put on the bus or in a JSON file. */
export interface ErrorInfo {
  code: ErrorCode
  message: string
  hint?: string
  data?: Record<string, unknown>
  cause?: string
}

/** An operational failure: says what failed, on what, why, and how to fix it. */
export class SafeCoderError extends Error {
  override readonly name = 'SafeCoderError'
  readonly code: ErrorCode
  readonly hint: string | undefined
  readonly data: Record<string, unknown> | undefined

  constructor(code: ErrorCode, message: string, options: SafeCoderErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.hint = options.hint
    this.data = options.data
  }

  toJSON(): ErrorInfo {
    return toErrorInfo(this)
  }
}

export function isSafeCoderError(error: unknown, code?: ErrorCode): error is SafeCoderError {
  return error instanceof SafeCoderError && (code === undefined || error.code === code)
}

/** Turns anything thrown into plain data; unknown errors become INTERNAL. */
export function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof SafeCoderError) {
    const info: ErrorInfo = { code: error.code, message: error.message }
    if (error.hint !== undefined) info.hint = error.hint
    if (error.data !== undefined) info.data = error.data
    if (error.cause !== undefined) info.cause = describeCause(error.cause)
    return info
  }
  const errno = errnoOf(error)
  // A full disk is the machine's state, not a bug: say where, and that nothing was lost.
  if (errno === 'ENOSPC' || errno === 'EDQUOT') {
    const where = (error as NodeJS.ErrnoException).path
    return {
      code: 'DISK_FULL',
      message: `No space left on the device${where === undefined ? '' : ` holding ${where}`} (${errno}).`,
      hint: 'Free space there (df -h shows how much is left) and run the command again; what was already recorded is intact.',
      cause: describeCause(error),
    }
  }
  return { code: 'INTERNAL', message: describeCause(error) }
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const errno = (cause as NodeJS.ErrnoException).code
    return errno === undefined ? cause.message : `${cause.message} (${errno})`
  }
  return String(cause)
}

/** The `code` of a Node system error (ENOENT, EACCES, …), if it is one. */
export function errnoOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = error.code
    return typeof code === 'string' ? code : undefined
  }
  return undefined
}

/** What was thrown, as something `throw` accepts under strict lint (a non-Error becomes one). */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value))
}
