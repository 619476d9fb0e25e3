import http from 'node:http'
import { SafeCoderError, errnoOf, isSafeCoderError } from '../../../shared/errors.js'
import { sleep } from '../../../shared/abort.js'

/**
 * A small HTTP/1.1 client for Firecracker's API socket. Firecracker answers 204 (or 200 with a
 * JSON body) on success and 4xx/5xx with `{"fault_message": "..."}`; that message is what the user
 * sees, as "Firecracker refused PUT /drives/rootfs: <fault_message>".
 */

export type HttpMethod = 'GET' | 'PUT' | 'PATCH'

export interface ApiResponse {
  status: number
  /** Parsed JSON body, or undefined for an empty body (204). */
  body: unknown
}

/** A hint for a refused request, by resource (what the user can check). */
export type RefusalHint = (method: HttpMethod, path: string, fault: string) => string | undefined

export interface FirecrackerApiOptions {
  /** Per-request deadline. Default 10 s (every request is local; Firecracker answers in µs). */
  timeoutMs?: number
  hint?: RefusalHint
}

const MAX_RESPONSE_BYTES = 1024 * 1024

export class FirecrackerApi {
  readonly socketPath: string
  readonly #timeoutMs: number
  readonly #hint: RefusalHint | undefined

  constructor(socketPath: string, options: FirecrackerApiOptions = {}) {
    this.socketPath = socketPath
    this.#timeoutMs = options.timeoutMs ?? 10_000
    this.#hint = options.hint
  }

  get(path: string, signal?: AbortSignal): Promise<unknown> {
    return this.call('GET', path, undefined, signal)
  }

  async put(path: string, body: unknown, signal?: AbortSignal): Promise<void> {
    await this.call('PUT', path, body, signal)
  }

  async patch(path: string, body: unknown, signal?: AbortSignal): Promise<void> {
    await this.call('PATCH', path, body, signal)
  }

  /** One request; resolves with the parsed body on 2xx, throws SANDBOX_FAILED otherwise. */
  async call(
    method: HttpMethod,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<unknown> {
    let response: ApiResponse
    try {
      response = await this.raw(method, path, body, signal)
    } catch (error) {
      if (isSafeCoderError(error)) throw error
      throw new SafeCoderError(
        'SANDBOX_FAILED',
        `Firecracker's API did not answer ${method} ${path}: ${describe(error)}`,
        {
          hint: 'Firecracker may have exited; its console log in the VM directory says why.',
          cause: error,
          data: { method, path, socket: this.socketPath },
        },
      )
    }
    if (response.status >= 200 && response.status < 300) return response.body
    const fault = faultMessage(response.body) ?? `HTTP ${response.status}`
    throw new SafeCoderError('SANDBOX_FAILED', `Firecracker refused ${method} ${path}: ${fault}`, {
      hint:
        this.#hint?.(method, path, fault) ??
        'This Firecracker may be older or newer than Safe Coder expects; `safe-coder doctor` shows its version.',
      data: { method, path, status: response.status, faultMessage: fault },
    })
  }

  /** The request without interpretation; rejects only when no HTTP answer came back. */
  raw(
    method: HttpMethod,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<ApiResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    return new Promise<ApiResponse>((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(abortError(method, path, signal))
        return
      }
      const headers: http.OutgoingHttpHeaders = { Accept: 'application/json' }
      if (payload !== undefined) {
        headers['Content-Type'] = 'application/json'
        headers['Content-Length'] = payload.length
      }
      const request = http.request({
        socketPath: this.socketPath,
        host: 'localhost',
        path,
        method,
        headers,
        agent: false,
      })
      const onAbort = (): void => {
        request.destroy(abortError(method, path, signal))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      const done = (): void => {
        signal?.removeEventListener('abort', onAbort)
      }
      request.setTimeout(this.#timeoutMs, () => {
        request.destroy(new Error(`no answer within ${this.#timeoutMs} ms`))
      })
      request.on('error', (error) => {
        done()
        reject(error)
      })
      request.on('response', (response) => {
        const chunks: Buffer[] = []
        let size = 0
        response.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > MAX_RESPONSE_BYTES) {
            request.destroy(new Error(`answer larger than ${MAX_RESPONSE_BYTES} bytes`))
            return
          }
          chunks.push(chunk)
        })
        response.on('error', (error) => {
          done()
          reject(error)
        })
        response.on('end', () => {
          done()
          const text = Buffer.concat(chunks).toString('utf8').trim()
          let parsed: unknown = undefined
          if (text !== '') {
            try {
              parsed = JSON.parse(text) as unknown
            } catch {
              parsed = { fault_message: text }
            }
          }
          resolve({ status: response.statusCode ?? 0, body: parsed })
        })
      })
      request.end(payload)
    })
  }
}

/**
 * Waits until Firecracker's API answers (`GET /` returns the instance info). Gives up when
 * `gone()` reports the process exited, when the signal fires, or after `timeoutMs`.
 */
export async function waitForApi(
  api: FirecrackerApi,
  options: { timeoutMs: number; gone: () => string | undefined; signal?: AbortSignal },
): Promise<unknown> {
  const deadline = Date.now() + options.timeoutMs
  let delay = 5
  let last: unknown
  for (;;) {
    const gone = options.gone()
    if (gone !== undefined) {
      throw new SafeCoderError(
        'SANDBOX_FAILED',
        `Firecracker exited before its API came up (${gone}).`,
        {
          hint: 'Its console log in the VM directory holds what it printed.',
          data: { socket: api.socketPath },
        },
      )
    }
    if (options.signal?.aborted === true) throw abortError('GET', '/', options.signal)
    try {
      const response = await api.raw('GET', '/', undefined, options.signal)
      if (response.status === 200) return response.body
      last = new Error(`GET / answered HTTP ${response.status}`)
    } catch (error) {
      if (isSafeCoderError(error, 'ABORTED')) throw error
      const code = errnoOf(error)
      // Not there yet (ENOENT), or bound but not listening yet (ECONNREFUSED): try again.
      if (code !== 'ENOENT' && code !== 'ECONNREFUSED') last = error
      else last ??= error
    }
    if (Date.now() >= deadline) {
      throw new SafeCoderError(
        'SANDBOX_FAILED',
        `Firecracker's API socket did not answer within ${options.timeoutMs} ms: ${describe(last)}`,
        {
          hint: 'The host may be overloaded; the console log in the VM directory may say more.',
          data: { socket: api.socketPath },
        },
      )
    }
    await sleep(delay, options.signal)
    delay = Math.min(delay * 2, 100)
  }
}

export function faultMessage(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined
  const fault = (body as Record<string, unknown>).fault_message
  return typeof fault === 'string' && fault.trim() !== '' ? fault.trim() : undefined
}

function abortError(method: string, path: string, signal: AbortSignal | undefined): SafeCoderError {
  return new SafeCoderError('ABORTED', `Firecracker ${method} ${path} was cancelled.`, {
    cause: signal?.reason,
  })
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
