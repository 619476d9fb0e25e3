import net from 'node:net'
import { SafeCoderError, errnoOf, isSafeCoderError } from '../../../shared/errors.js'
import { sleep } from '../../../shared/abort.js'

/**
 * Host-initiated vsock connections through Firecracker (its vsock docs): connect to the unix
 * socket at the device's `uds_path`, send `CONNECT <port>\n`, read `OK <host_port>\n`; from then on
 * the stream is the guest's vsock port. While the guest boots nobody listens on the port, and
 * Firecracker closes the connection (before the guest's vsock driver is up it holds the request
 * and answers later), so closes, resets and refusals are retried; any other answer is a hard
 * failure.
 */

export interface VsockConnectOptions {
  signal?: AbortSignal
  /** Give up after this long. Default 60 s. */
  timeoutMs?: number
  /**
   * How long one attempt may wait for its answer before it is abandoned and retried. Default:
   * the whole deadline. Firecracker holds a CONNECT it cannot deliver yet (the guest's vsock
   * driver is not up) and answers it later with OK or a close, so waiting is right; abandoning
   * a connection the guest has just accepted would end the guest's only agent connection.
   */
  attemptTimeoutMs?: number
  /** First pause between attempts (doubles up to `maxRetryDelayMs`). Default 50 ms. */
  retryDelayMs?: number
  maxRetryDelayMs?: number
  /** Stop retrying when this returns a reason (the VMM exited). */
  gone?: () => string | undefined
}

/** The longest acknowledgement line accepted ("OK 4294967295\n" is 14 bytes). */
const MAX_LINE_BYTES = 64

/** Why one attempt did not connect: retry, or give up with what Firecracker said. */
class AttemptFailed extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
  ) {
    super(message)
  }
}

export async function connectVsock(
  udsPath: string,
  port: number,
  options: VsockConnectOptions = {},
): Promise<net.Socket> {
  const timeoutMs = options.timeoutMs ?? 60_000
  const deadline = Date.now() + timeoutMs
  const maxDelay = options.maxRetryDelayMs ?? 500
  let delay = options.retryDelayMs ?? 50
  let attempts = 0
  let last = 'no attempt was made'
  for (;;) {
    if (options.signal?.aborted === true) {
      throw new SafeCoderError('ABORTED', `Connecting to guest vsock port ${port} was cancelled.`, {
        cause: options.signal.reason,
      })
    }
    const gone = options.gone?.()
    if (gone !== undefined) {
      throw new SafeCoderError(
        'SANDBOX_FAILED',
        `The microVM stopped (${gone}) before anything answered on vsock port ${port}.`,
        {
          hint: 'The guest console (console.log in the VM directory) shows how far it booted.',
          data: { udsPath, port, attempts, last },
        },
      )
    }
    attempts++
    const remaining = Math.max(1, deadline - Date.now())
    try {
      return await attempt(
        udsPath,
        port,
        Math.min(options.attemptTimeoutMs ?? remaining, remaining),
        options.signal,
      )
    } catch (error) {
      if (isSafeCoderError(error)) throw error
      if (error instanceof AttemptFailed && !error.retry) {
        throw new SafeCoderError('SANDBOX_FAILED', error.message, {
          hint: 'Something other than Firecracker may be listening on the VM socket, or this Firecracker speaks another vsock protocol.',
          data: { udsPath, port, attempts },
        })
      }
      last = error instanceof Error ? error.message : String(error)
    }
    if (Date.now() + delay >= deadline) {
      throw new SafeCoderError(
        'SANDBOX_FAILED',
        `Nothing answered on guest vsock port ${port} within ${timeoutMs} ms (${attempts} attempts; last: ${last}).`,
        {
          hint: 'The guest may still be booting or its agent failed to start; the guest console (console.log in the VM directory) shows how far it got.',
          data: { udsPath, port, attempts, last },
        },
      )
    }
    await sleep(delay, options.signal)
    delay = Math.min(delay * 2, maxDelay)
  }
}

/** One connection and handshake. Resolves with the socket paused, extra bytes pushed back. */
function attempt(
  udsPath: string,
  port: number,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<net.Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    const socket = net.createConnection({ path: udsPath })
    let buffered = Buffer.alloc(0)
    let settled = false
    const timer = setTimeout(() => {
      fail(new AttemptFailed(`no answer to CONNECT ${port} within ${timeoutMs} ms`, true))
    }, timeoutMs)
    const onAbort = (): void => {
      fail(
        new SafeCoderError('ABORTED', `Connecting to guest vsock port ${port} was cancelled.`, {
          cause: signal?.reason,
        }),
      )
    }
    signal?.addEventListener('abort', onAbort, { once: true })

    const cleanup = (): void => {
      settled = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      socket.off('connect', onConnect)
      socket.off('readable', onReadable)
      socket.off('error', onError)
      socket.off('close', onClose)
    }
    const fail = (error: Error): void => {
      if (settled) return
      cleanup()
      socket.destroy()
      reject(error)
    }
    const onConnect = (): void => {
      socket.write(`CONNECT ${port}\n`)
    }
    const onError = (error: Error): void => {
      const code = errnoOf(error)
      const retry =
        code === 'ECONNREFUSED' ||
        code === 'ENOENT' ||
        code === 'ECONNRESET' ||
        code === 'EPIPE' ||
        code === 'EAGAIN'
      fail(new AttemptFailed(`${code ?? 'error'}: ${error.message}`, retry))
    }
    const onClose = (): void => {
      const said = buffered.length === 0 ? '' : ` after "${printable(buffered)}"`
      fail(new AttemptFailed(`the connection was closed without an OK line${said}`, true))
    }
    // 'readable' + read() rather than 'data': the socket never enters flowing mode here, so no
    // byte after the OK line is read past, and the caller can use it like a fresh socket
    // ('data', pipe or read) once this listener is gone.
    const onReadable = (): void => {
      let chunk: Buffer | null
      while (!settled && (chunk = socket.read() as Buffer | null) !== null) {
        buffered = Buffer.concat([buffered, chunk])
        const newline = buffered.indexOf(0x0a)
        if (newline < 0) {
          if (buffered.length > MAX_LINE_BYTES) {
            fail(
              new AttemptFailed(
                `Firecracker's vsock answered CONNECT ${port} with "${printable(buffered)}…" (expected "OK <port>")`,
                false,
              ),
            )
          }
          continue
        }
        const line = buffered.subarray(0, newline).toString('latin1').replace(/\r$/, '')
        const rest = buffered.subarray(newline + 1)
        if (!/^OK [0-9]+$/.test(line)) {
          fail(
            new AttemptFailed(
              `Firecracker's vsock answered CONNECT ${port} with "${printable(Buffer.from(line, 'latin1'))}" (expected "OK <port>")`,
              false,
            ),
          )
          return
        }
        cleanup()
        if (rest.length > 0) socket.unshift(rest)
        resolve(socket)
        return
      }
    }
    socket.on('connect', onConnect)
    socket.on('readable', onReadable)
    socket.on('error', onError)
    socket.on('close', onClose)
  })
}

function printable(bytes: Buffer): string {
  return bytes
    .subarray(0, MAX_LINE_BYTES)
    .toString('latin1')
    .replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}
