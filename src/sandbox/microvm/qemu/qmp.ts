import net from 'node:net'

/**
 * A minimal QMP (QEMU Machine Protocol) client: newline-delimited JSON over the unix socket.
 * On connect QEMU sends a greeting; nothing but `qmp_capabilities` is accepted until that is
 * sent. Every command carries an `id` and its answer (`return` or `error`) echoes it;
 * asynchronous `event` messages are passed to `onEvent`.
 */

export interface QmpEvent {
  event: string
  data?: Record<string, unknown>
  timestamp?: { seconds: number; microseconds: number }
}

export class QmpError extends Error {
  override readonly name = 'QmpError'
  constructor(
    message: string,
    readonly errorClass?: string,
  ) {
    super(message)
  }
}

interface Pending {
  resolve: (value: unknown) => void
  reject: (error: Error) => void
}

export class QmpClient {
  readonly #socket: net.Socket
  readonly #pending = new Map<string, Pending>()
  #buffer = ''
  #nextId = 1
  #closed: Error | undefined
  #greeting: Promise<Record<string, unknown>>
  onEvent: ((event: QmpEvent) => void) | undefined

  private constructor(socket: net.Socket) {
    this.#socket = socket
    let greeted: (value: Record<string, unknown>) => void = () => undefined
    let failed: (error: Error) => void = () => undefined
    this.#greeting = new Promise((resolve, reject) => {
      greeted = resolve
      failed = reject
    })
    this.#greeting.catch(() => undefined)
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk
      let nl: number
      while ((nl = this.#buffer.indexOf('\n')) >= 0) {
        const line = this.#buffer.slice(0, nl).trim()
        this.#buffer = this.#buffer.slice(nl + 1)
        if (line === '') continue
        let message: Record<string, unknown>
        try {
          message = JSON.parse(line) as Record<string, unknown>
        } catch {
          continue
        }
        if ('QMP' in message) greeted(message)
        else if (typeof message.event === 'string') this.onEvent?.(message as unknown as QmpEvent)
        else this.#settle(message)
      }
    })
    const close = (error: Error): void => {
      if (this.#closed !== undefined) return
      this.#closed = error
      failed(error)
      for (const pending of this.#pending.values()) pending.reject(error)
      this.#pending.clear()
    }
    socket.on('error', close)
    socket.on('close', () => {
      close(new QmpError('QMP connection closed'))
    })
  }

  /** Connects, waits for the greeting and negotiates capabilities. */
  static async connect(socketPath: string, timeoutMs = 5000): Promise<QmpClient> {
    const socket = net.connect(socketPath)
    const client = new QmpClient(socket)
    const timer = setTimeout(
      () => socket.destroy(new QmpError('QMP greeting timed out')),
      timeoutMs,
    )
    try {
      await client.#greeting
      await client.execute('qmp_capabilities')
      return client
    } catch (error) {
      socket.destroy()
      throw error
    } finally {
      clearTimeout(timer)
    }
  }

  get closed(): boolean {
    return this.#closed !== undefined
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed)
    const id = `sc-${this.#nextId++}`
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      const message =
        args === undefined ? { execute: command, id } : { execute: command, arguments: args, id }
      this.#socket.write(`${JSON.stringify(message)}\n`)
    })
  }

  /** `query-status`: e.g. `{ status: 'running', running: true }`. */
  queryStatus(): Promise<{ status: string; running: boolean }> {
    return this.execute('query-status')
  }

  /** Asks QEMU to exit now (the guest is not told). The connection closes as QEMU exits. */
  async quit(): Promise<void> {
    await this.execute('quit').catch((error: unknown) => {
      // QEMU may close the socket before the answer arrives.
      if (!(error instanceof QmpError)) throw error
    })
  }

  close(): void {
    this.#socket.destroy()
  }

  #settle(message: Record<string, unknown>): void {
    const id = typeof message.id === 'string' ? message.id : undefined
    const pending = id === undefined ? undefined : this.#pending.get(id)
    if (id === undefined || pending === undefined) return
    this.#pending.delete(id)
    if ('error' in message) {
      const error = message.error as { class?: string; desc?: string }
      pending.reject(new QmpError(error.desc ?? 'QMP error', error.class))
    } else pending.resolve(message.return)
  }
}
