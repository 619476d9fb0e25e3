/**
 * The host side of the guest agent's protocol (docs/guest-agent.md). One client per channel;
 * requests run concurrently, multiplexed by id. Whatever the agent sends is checked before the
 * host acts on it: frame sizes, ids, field types, paths, byte counts and checksums. A frame that
 * breaks the protocol closes the channel (SANDBOX_FAILED); a channel that goes away fails what
 * was pending (SANDBOX_GONE). Nothing the agent sends can throw out of a stream callback.
 */

import { createHash, randomInt, type Hash } from 'node:crypto'
import type { Duplex } from 'node:stream'
import {
  describeBytes,
  encodeHeader,
  FrameDecoder,
  FrameKind,
  MAX_FRAME_BYTES,
  MAX_PULL_FILE_BYTES,
  MIN_FRAME_BYTES,
  parseJson,
  PROTOCOL,
  ProtocolError,
  type Frame,
  type JsonObject,
} from '../../guest/protocol.js'
import { SafeCoderError } from '../../shared/errors.js'
import { diskFullError } from '../disk/disk-full.js'
import { WORKSPACE } from '../types.js'
import type { DirEntry, ExecIO, ExecResult, FileStat } from '../types.js'
import { toWorkspacePath } from '../workspace-path.js'
import { ReadHolds } from '../read-holds.js'
import { isStdinStream } from '../stdin-source.js'
import { StdinWindow } from './stdin-window.js'
import { CappedBuffer } from './capped-buffer.js'
import {
  array,
  clean,
  finite,
  integer,
  kindOfMode,
  MAX_CHANGES,
  MAX_LIST_ENTRIES,
  object,
  parseChange,
  parseDirEntry,
  parseHello,
  parseSkipped,
  relativePath,
  sha256Field,
  violation,
} from './replies.js'
import type {
  AgentClient,
  AgentClientOptions,
  AgentExecOptions,
  AgentHello,
  AgentStats,
  ChangeSet,
  FileReceiver,
  PulledFile,
  WorkspaceChange,
} from './types.js'

const DEFAULT_HELLO_TIMEOUT_MS = 10_000
const HELLO_RESEND_MS = 500
const DEFAULT_MAX_OUTPUT = 10 * 1024 * 1024
const DEFAULT_MAX_READ = 64 * 1024 * 1024
/** After a kill (abort, or a timeout the agent missed), how long the agent has to report. */
const KILL_GRACE_MS = 5000
/** Size of the file/stdin frames the client sends. */
const SEND_CHUNK = 256 * 1024
/** Budget of one pull request's JSON (its paths); longer lists go in several requests. */
const PULL_BATCH_BYTES = 256 * 1024
/** Pulled bytes the client holds that the agent sent beyond its window (8 MiB) before it is a violation. */
/** Pulled bytes a receiver may be behind before the channel stops being read. */
const PULL_BUFFER_BYTES = 4 * 1024 * 1024
const DEFAULT_SHUTDOWN_MS = 10_000
const STATS_TIMEOUT_MS = 10_000

/**
 * Connects to an agent over `stream`: waits for its hello (the unsolicited one, or the answer
 * to the hello requests the client re-sends every 500 ms), then checks the protocol number.
 * Rejects with SANDBOX_FAILED on a timeout, a closed channel or a version mismatch, saying what
 * arrived instead.
 */
export async function connectAgent(
  stream: Duplex,
  options: AgentClientOptions = {},
): Promise<AgentClient> {
  const client = new Client(stream, options)
  await client.handshake(options.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS)
  return client
}

interface Handler {
  /** An intermediate (`more: true`) message. */
  onMore(message: JsonObject): void
  onData(kind: FrameKind, payload: Buffer): void
  /** The final reply (`ok` true or false). */
  onFinal(message: JsonObject): void
  fail(error: Error): void
}

interface CallOptions {
  onMore?: (message: JsonObject) => void
  onData?: (kind: FrameKind, payload: Buffer) => void
  signal?: AbortSignal | undefined
  /** Turns an agent error reply into the error the caller sees. */
  error: (code: string, message: string) => SafeCoderError
  /** The ABORTED error when the signal fires. */
  aborted: () => SafeCoderError
}

interface Call {
  id: number
  result: Promise<JsonObject>
  /** Stops waiting for the reply (it is dropped when it comes), rejecting with `error`. */
  abandon: (error: Error) => void
  settled: () => boolean
}

/** The agent error codes that mean a version skew rather than a failure. */
const SKEW_CODES = new Set(['UNKNOWN_OP', 'BAD_REQUEST'])

class Client implements AgentClient {
  hello: AgentHello = { protocol: 0, version: '', kernel: '', pid: 0, root: '', features: [] }
  closed = false
  private connection = 0
  private handshakeDone = false
  private readonly pending = new Map<number, Handler>()
  /** Ids whose replies are no longer wanted (abandoned requests, extra hello requests). */
  private readonly ignored = new Set<number>()
  private readonly helloIds = new Set<number>()
  private nextId = randomInt(1, 2 ** 30)
  private readonly decoder: FrameDecoder
  private drainWaiters: (() => void)[] = []
  /**
   * A slow output reader stops this side reading the channel: the agent's writes then block and
   * it pauses the command's pipes, so the command slows down instead of filling memory here.
   * Every call on the channel waits meanwhile.
   */
  private readonly inputHolds: ReadHolds
  private closeError: Error | undefined
  private onHello: ((error?: Error) => void) | undefined
  private readonly maxFrame: number

  constructor(
    private readonly stream: Duplex,
    private readonly options: AgentClientOptions,
  ) {
    this.maxFrame = Math.max(MIN_FRAME_BYTES, options.maxFrameBytes ?? MAX_FRAME_BYTES)
    this.inputHolds = new ReadHolds(stream, () => !this.closed)
    this.decoder = new FrameDecoder(
      {
        maxPayload: this.maxFrame,
        // Until the hello, skip whatever else is on the line (a console, a stale connection).
        hunt: (frame, message) =>
          message.op === 'hello' && (frame.id === 0 || this.helloIds.has(frame.id)),
      },
      (frame) => {
        this.onFrame(frame)
      },
    )
    stream.on('data', (chunk: Buffer | string) => {
      this.onBytes(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
    })
    stream.on('drain', () => {
      this.wakeDrain()
    })
    stream.once('end', () => {
      this.fail(gone('the channel closed'))
    })
    stream.once('close', () => {
      this.fail(gone('the channel closed'))
    })
    stream.on('error', (error: Error) => {
      this.fail(gone(`the channel failed (${error.message})`, error))
    })
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Handshake                                                                               */
  /* ---------------------------------------------------------------------------------------- */

  handshake(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const sendHello = (): void => {
        if (this.closed) return
        const id = this.allocateId()
        this.helloIds.add(id)
        this.writeJson(id, { op: 'hello', protocol: PROTOCOL, maxFrameBytes: this.maxFrame })
      }
      const resend = setInterval(sendHello, HELLO_RESEND_MS)
      const timer = setTimeout(() => {
        finish(
          new SafeCoderError(
            'SANDBOX_FAILED',
            `The sandbox agent did not say hello within ${timeoutMs} ms (${this.received()}).`,
            {
              hint: 'The sandbox may not have booted or may not run the agent; its console log says more.',
            },
          ),
        )
      }, timeoutMs)
      const finish = (error?: Error): void => {
        clearInterval(resend)
        clearTimeout(timer)
        this.onHello = undefined
        if (error === undefined) {
          resolve()
          return
        }
        this.shut(error, true)
        reject(error)
      }
      this.onHello = finish
      if (this.closed) {
        finish(this.handshakeFailure())
        return
      }
      sendHello()
    })
  }

  /** What came instead of a hello, for the error message. */
  private received(): string {
    const skipped = this.decoder.skipped + this.decoder.buffered
    if (skipped === 0) return 'it sent nothing'
    return `it sent ${skipped} bytes that are not a hello, starting ${describeBytes(this.decoder.preview(49), 48)}`
  }

  private handshakeFailure(): SafeCoderError {
    const why = (this.closeError?.message ?? 'the channel closed').replace(/\.$/, '')
    return new SafeCoderError(
      'SANDBOX_FAILED',
      `The sandbox agent closed the channel before saying hello (${this.received()}; ${why}).`,
    )
  }

  private acceptHello(message: JsonObject): void {
    const hello = parseHello(message)
    if (hello.protocol !== PROTOCOL) {
      this.onHello?.(
        new SafeCoderError(
          'SANDBOX_FAILED',
          `The sandbox agent speaks protocol ${hello.protocol} (agent ${hello.version} on Linux ${hello.kernel}), but this Safe Coder speaks protocol ${PROTOCOL}.`,
          {
            hint: 'Rebuild the sandbox image (safe-coder image build) so its agent matches this version.',
            data: { agentProtocol: hello.protocol, agentVersion: hello.version },
          },
        ),
      )
      return
    }
    const { connection, ...rest } = hello
    this.hello = rest
    this.connection = connection
    this.handshakeDone = true
    this.onHello?.()
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Frames in                                                                               */
  /* ---------------------------------------------------------------------------------------- */

  private onBytes(chunk: Buffer): void {
    if (this.closed) return
    try {
      this.decoder.push(chunk)
    } catch (error) {
      this.violated(error)
    }
  }

  private onFrame(frame: Frame): void {
    if (frame.id === 0) {
      this.onAgentMessage(frame)
      return
    }
    if (this.helloIds.has(frame.id)) {
      this.helloIds.delete(frame.id)
      if (frame.kind !== FrameKind.json) throw violation(`a data frame for hello ${frame.id}`)
      if (!this.handshakeDone) this.acceptHello(parseJson(frame.payload))
      return
    }
    const handler = this.pending.get(frame.id)
    if (handler === undefined) {
      if (this.ignored.has(frame.id)) {
        if (frame.kind === FrameKind.json && isFinal(parseJson(frame.payload))) {
          this.ignored.delete(frame.id)
        }
        return
      }
      throw violation(`a frame (kind ${frame.kind}) for request ${frame.id}, which is not pending`)
    }
    if (frame.kind !== FrameKind.json) {
      handler.onData(frame.kind, frame.payload)
      return
    }
    const message = parseJson(frame.payload)
    if (message.more === true) {
      handler.onMore(message)
      return
    }
    if (!isFinal(message))
      throw violation(`a reply to request ${frame.id} that is neither final nor partial`)
    this.pending.delete(frame.id)
    handler.onFinal(message)
  }

  /** Unsolicited messages (id 0): the hello, and protocol errors the agent reports. */
  private onAgentMessage(frame: Frame): void {
    if (frame.kind !== FrameKind.json)
      throw violation(`a data frame (kind ${frame.kind}) with id 0`)
    const message = parseJson(frame.payload)
    if (message.op === 'hello') {
      if (!this.handshakeDone) {
        this.acceptHello(message)
        return
      }
      const { connection } = parseHello(message)
      // A later connection means the agent reset its channel: what was pending is lost.
      if (connection > this.connection) {
        this.fail(
          new SafeCoderError(
            'SANDBOX_GONE',
            'The sandbox agent restarted its channel; requests in flight were lost.',
          ),
        )
      }
      return
    }
    if (message.op === 'error') {
      this.shut(
        new SafeCoderError(
          'SANDBOX_FAILED',
          `The sandbox agent reported a protocol error: ${clean(message.message)}.`,
        ),
        true,
      )
      return
    }
    throw violation(`an unsolicited message with op ${clean(message.op, 40)}`)
  }

  private violated(error: unknown): void {
    const detail = error instanceof ProtocolError ? error.message : String(error)
    this.shut(
      new SafeCoderError('SANDBOX_FAILED', `The sandbox agent sent a malformed frame: ${detail}.`, {
        hint: 'Something in the sandbox wrote into the agent channel or the agent is broken; the sandbox has to be recreated.',
        cause: error,
      }),
      true,
    )
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Frames out                                                                              */
  /* ---------------------------------------------------------------------------------------- */

  private allocateId(): number {
    const id = this.nextId
    this.nextId = this.nextId >= 0xfffffffe ? 1 : this.nextId + 1
    return id
  }

  /** Writes a frame; false when the stream wants the writer to wait for `drain`. */
  private writeFrame(kind: FrameKind, id: number, payload: Uint8Array): boolean {
    if (this.closed) return true
    const header = encodeHeader(kind, id, payload.byteLength)
    if (payload.byteLength < 16 * 1024) {
      return this.stream.write(Buffer.concat([header, payload]))
    }
    this.stream.write(header)
    return this.stream.write(payload)
  }

  private writeJson(id: number, message: object): boolean {
    const payload = Buffer.from(JSON.stringify(message), 'utf8')
    if (payload.length > MAX_FRAME_BYTES) {
      throw new SafeCoderError(
        'USAGE',
        `The request is too large to send to the sandbox agent (${payload.length} bytes, at most ${MAX_FRAME_BYTES}).`,
        { hint: 'Pass large inputs through stdin or a file instead of the command line.' },
      )
    }
    return this.writeFrame(FrameKind.json, id, payload)
  }

  private drained(): Promise<void> {
    if (this.closed) return Promise.resolve()
    return new Promise((resolve) => this.drainWaiters.push(resolve))
  }

  private wakeDrain(): void {
    const waiters = this.drainWaiters
    this.drainWaiters = []
    for (const wake of waiters) wake()
  }

  /** Sends `data` as frames of `kind` on request `id`, waiting for the stream as it fills. */
  private async sendBulk(
    kind: FrameKind,
    id: number,
    data: Uint8Array,
    stop: () => boolean,
  ): Promise<void> {
    for (let at = 0; at < data.byteLength; at += SEND_CHUNK) {
      if (this.closed || stop()) return
      if (!this.writeFrame(kind, id, data.subarray(at, at + SEND_CHUNK))) await this.drained()
    }
  }

  /**
   * Forwards a stdin stream chunk by chunk (each taken only once the channel drained and, with
   * a window, the agent acknowledged enough), then `end`; stops taking chunks once the exec is
   * over. A failing source ends the input like an EOF.
   */
  private async streamStdin(
    call: Call,
    source: AsyncIterable<Uint8Array>,
    window: StdinWindow | undefined,
  ): Promise<void> {
    const over = (): boolean => this.closed || call.settled()
    try {
      for await (const chunk of source) {
        if (over()) return
        // Counted before it goes: the agent may acknowledge it before the send resolves.
        window?.sent(chunk.byteLength)
        await this.sendBulk(FrameKind.stdin, call.id, chunk, call.settled)
        await window?.room()
      }
    } catch {
      // Fall through to the end of the input.
    }
    if (!over()) this.writeJson(call.id, { op: 'end' })
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Requests                                                                                */
  /* ---------------------------------------------------------------------------------------- */

  private call(message: { op: string } & JsonObject, options: CallOptions): Call {
    const id = this.allocateId()
    let settled = false
    let resolveResult!: (message: JsonObject) => void
    let rejectResult!: (error: Error) => void
    const result = new Promise<JsonObject>((resolve, reject) => {
      resolveResult = resolve
      rejectResult = reject
    })
    const done = (): void => {
      settled = true
      options.signal?.removeEventListener('abort', onAbort)
    }
    const abandon = (error: Error): void => {
      if (settled) return
      done()
      if (this.pending.delete(id)) {
        this.ignored.add(id)
        this.writeJson(id, { op: 'cancel' })
      }
      rejectResult(error)
    }
    const onAbort = (): void => {
      abandon(options.aborted())
    }
    const handler: Handler = {
      onMore: (msg) => {
        if (options.onMore === undefined) throw violation(`a partial reply to ${message.op}`)
        options.onMore(msg)
      },
      onData: (kind, payload) => {
        if (options.onData === undefined) {
          throw violation(`a data frame (kind ${kind}) in reply to ${message.op}`)
        }
        options.onData(kind, payload)
      },
      onFinal: (msg) => {
        if (settled) return
        done()
        if (msg.ok === true) {
          resolveResult(msg)
          return
        }
        const code = clean(msg.code, 40)
        const text = clean(msg.message)
        rejectResult(
          SKEW_CODES.has(code)
            ? new SafeCoderError(
                'SANDBOX_FAILED',
                `The sandbox agent refused the ${message.op} request: ${text} (${code}).`,
                {
                  hint: 'The agent in the sandbox image does not match this Safe Coder; rebuild the image.',
                },
              )
            : options.error(code, text),
        )
      },
      fail: (error) => {
        if (settled) return
        done()
        rejectResult(error)
      },
    }
    if (this.closed) {
      settled = true
      rejectResult(this.closedError())
    } else if (options.signal?.aborted === true) {
      settled = true
      rejectResult(options.aborted())
    } else {
      this.pending.set(id, handler)
      options.signal?.addEventListener('abort', onAbort, { once: true })
      try {
        this.writeJson(id, message)
      } catch (error) {
        this.pending.delete(id)
        done()
        rejectResult(error as Error)
      }
    }
    return { id, result, abandon, settled: () => settled }
  }

  private closedError(): Error {
    return this.closeError ?? gone('the channel is closed')
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Operations                                                                              */
  /* ---------------------------------------------------------------------------------------- */

  async exec(req: AgentExecOptions, io: ExecIO = {}): Promise<ExecResult> {
    const argv = typeof req.command === 'string' ? ['/bin/sh', '-c', req.command] : [...req.command]
    if (argv.length === 0) throw new SafeCoderError('USAGE', 'Cannot run an empty command.')
    if (argv.some((arg) => arg.includes('\0'))) {
      throw new SafeCoderError('USAGE', 'Cannot run a command whose arguments contain NUL bytes.')
    }
    const env = req.env ?? {}
    for (const [key, value] of Object.entries(env)) {
      if (key === '' || /[=\0]/.test(key) || value.includes('\0')) {
        throw new SafeCoderError(
          'USAGE',
          `The environment variable ${JSON.stringify(key)} is not valid.`,
        )
      }
    }
    const cwdInput = req.cwd ?? '.'
    const cwd = relativeTo(toWorkspacePath(cwdInput))
    const started = performance.now()
    const stdout = new CappedBuffer(req.maxOutputBytes ?? DEFAULT_MAX_OUTPUT)
    const stderr = new CappedBuffer(req.maxOutputBytes ?? DEFAULT_MAX_OUTPUT)
    const result = (exitCode: number | null, timedOut: boolean, aborted: boolean): ExecResult => ({
      exitCode,
      stdout: stdout.toBuffer().toString('utf8'),
      stderr: stderr.toBuffer().toString('utf8'),
      durationMs: performance.now() - started,
      timedOut,
      aborted,
      truncatedBytes: stdout.dropped + stderr.dropped,
    })
    if (io.signal?.aborted === true) return result(null, false, true)

    const shown = argv.join(' ')
    const what = `Cannot run \`${shown.length > 100 ? `${shown.slice(0, 100)}…` : shown}\` in ${JSON.stringify(cwdInput)}`
    const hasStdin = req.stdin !== undefined
    // A streamed stdin is sent as the command takes it in, where the agent says how far it got.
    const window =
      isStdinStream(req.stdin) && this.hello.features.includes('stdin-acks')
        ? new StdinWindow()
        : undefined
    const call = this.call(
      {
        op: 'exec',
        argv,
        cwd,
        env,
        stdin: hasStdin,
        ...(window === undefined ? {} : { stdinAcks: true }),
        ...(req.user === undefined ? {} : { user: req.user }),
        ...(req.timeoutMs === undefined ? {} : { timeoutMs: req.timeoutMs }),
      },
      {
        ...(window === undefined
          ? {}
          : {
              onMore: (message: JsonObject) => {
                if (!window.ack(integer(message.stdinAck, 'a stdin acknowledgement'))) {
                  throw violation('an acknowledgement of more stdin than was sent')
                }
              },
            }),
        onData: (kind, payload) => {
          if (kind === FrameKind.stdout) {
            stdout.push(payload)
            notify(io.onStdout, payload)
          } else if (kind === FrameKind.stderr) {
            stderr.push(payload)
            notify(io.onStderr, payload)
          } else throw violation(`a frame of kind ${kind} in the output of an exec`)
          const wait = io.waitForReader?.()
          if (wait !== undefined) this.inputHolds.hold(wait, io.signal)
        },
        error: (code, message) =>
          pathError(
            code,
            message,
            what,
            'not a directory',
            () => new SafeCoderError('ABORTED', 'The command was cancelled.'),
          ),
        aborted: () => new SafeCoderError('ABORTED', 'The command was cancelled.'),
      },
    )

    // Kills go through the agent; if it does not report within the grace, stop waiting.
    let aborted = false
    let guardTimedOut = false
    let grace: NodeJS.Timeout | undefined
    const giveUp = new Promise<'gave-up'>((resolve) => {
      const kill = (): void => {
        if (call.settled()) return
        this.writeJson(call.id, { op: 'kill' })
        grace ??= setTimeout(() => {
          resolve('gave-up')
        }, KILL_GRACE_MS)
      }
      const onAbort = (): void => {
        aborted = true
        kill()
      }
      io.signal?.addEventListener('abort', onAbort, { once: true })
      const guard =
        req.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              guardTimedOut = true
              kill()
            }, req.timeoutMs + KILL_GRACE_MS)
      void call.result
        .finally(() => {
          io.signal?.removeEventListener('abort', onAbort)
          clearTimeout(guard)
          clearTimeout(grace)
        })
        .catch(() => undefined)
    })

    if (isStdinStream(req.stdin)) {
      void call.result.finally(() => window?.stop()).catch(() => undefined)
      void this.streamStdin(call, req.stdin, window)
    } else if (req.stdin !== undefined) {
      const bytes = typeof req.stdin === 'string' ? Buffer.from(req.stdin) : req.stdin
      void this.sendBulk(FrameKind.stdin, call.id, bytes, call.settled).then(() => {
        if (!call.settled()) this.writeJson(call.id, { op: 'end' })
      })
    }

    const outcome = await Promise.race([call.result, giveUp])
    if (outcome === 'gave-up') {
      call.abandon(new SafeCoderError('ABORTED', 'The command was cancelled.'))
      return result(null, guardTimedOut, aborted)
    }
    const exitCode = outcome.exitCode === null ? null : integer(outcome.exitCode, 'exitCode', 255)
    return result(exitCode, outcome.timedOut === true || guardTimedOut, aborted)
  }

  async readFile(
    path: string,
    options: { maxBytes?: number; signal?: AbortSignal } = {},
  ): Promise<Uint8Array> {
    const target = toWorkspacePath(path)
    const max = options.maxBytes ?? DEFAULT_MAX_READ
    const chunks: Buffer[] = []
    let received = 0
    const call = this.call(
      { op: 'read', path: relativeTo(target), maxBytes: max },
      {
        signal: options.signal,
        onData: (kind, payload) => {
          if (kind !== FrameKind.file) throw violation(`a frame of kind ${kind} in a read`)
          received += payload.length
          if (received > max) throw violation(`more than the ${max} bytes asked for in a read`)
          chunks.push(payload)
        },
        error: (code, message) => fileError(code, message, 'read', path),
        aborted: () => cancelled('read', path),
      },
    )
    const reply = await call.result
    if (integer(reply.size, 'the size of a read') !== received) {
      this.violated(violation(`a read of ${received} bytes that claims ${clean(reply.size, 20)}`))
      throw this.closedError()
    }
    return Buffer.concat(chunks, received)
  }

  async writeFile(
    path: string,
    data: Uint8Array,
    options: { mode?: number; signal?: AbortSignal } = {},
  ): Promise<void> {
    const target = toWorkspacePath(path)
    if (target === WORKSPACE) throw fileError('WRONG_KIND', '', 'write', path)
    const call = this.call(
      {
        op: 'write',
        path: relativeTo(target),
        size: data.byteLength,
        ...(options.mode === undefined ? {} : { mode: options.mode & 0o7777 & ~0o6000 }),
      },
      {
        signal: options.signal,
        error: (code, message) => fileError(code, message, 'write', path),
        aborted: () => cancelled('write', path),
      },
    )
    void this.sendBulk(FrameKind.file, call.id, data, call.settled).then(() => {
      if (!call.settled()) this.writeJson(call.id, { op: 'end' })
    })
    await call.result
  }

  async stat(path: string, options: { signal?: AbortSignal } = {}): Promise<FileStat> {
    const target = toWorkspacePath(path)
    const reply = await this.call(
      { op: 'stat', path: relativeTo(target) },
      {
        signal: options.signal,
        error: (code, message) => fileError(code, message, 'stat', path),
        aborted: () => cancelled('stat', path),
      },
    ).result
    return this.checked(() => {
      const raw = integer(reply.mode, 'the mode of a stat', 0o177777)
      return {
        path: target,
        kind: kindOfMode(raw),
        size: integer(reply.size, 'the size of a stat'),
        mode: raw & 0o7777,
        mtimeMs: finite(reply.mtimeMs, 'the mtime of a stat'),
      }
    })
  }

  async list(path: string, options: { signal?: AbortSignal } = {}): Promise<DirEntry[]> {
    const target = toWorkspacePath(path)
    const entries: DirEntry[] = []
    const take = (message: JsonObject): void => {
      if (message.entries === undefined) return
      for (const entry of array(message.entries, 'entries')) {
        if (entries.length >= MAX_LIST_ENTRIES) {
          throw violation(`a listing of more than ${MAX_LIST_ENTRIES} entries`)
        }
        entries.push(parseDirEntry(entry))
      }
    }
    const reply = await this.call(
      { op: 'list', path: relativeTo(target) },
      {
        signal: options.signal,
        onMore: take,
        error: (code, message) => fileError(code, message, 'list', path),
        aborted: () => cancelled('list', path),
      },
    ).result
    this.checked(() => {
      take(reply)
    })
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  async mark(): Promise<{ files: number }> {
    const reply = await this.call({ op: 'mark' }, agentOp('mark the workspace')).result
    return this.checked(() => ({ files: integer(reply.files, 'the file count of a mark') }))
  }

  async changes(options: { maxFileBytes?: number } = {}): Promise<ChangeSet> {
    const max = options.maxFileBytes ?? MAX_PULL_FILE_BYTES
    // Files over the cap are then reported with their size, for the same "too large" record a
    // container's history holds; an older agent skips them.
    const reportTooLarge = this.hello.features.includes('stream-pull')
    const changes: WorkspaceChange[] = []
    const skipped: ChangeSet['skipped'] = []
    const take = (message: JsonObject): void => {
      const more = [
        ...(message.changes === undefined ? [] : array(message.changes, 'changes')),
        ...(message.skipped === undefined ? [] : array(message.skipped, 'skipped')),
      ]
      if (changes.length + skipped.length + more.length > MAX_CHANGES) {
        throw violation(`more than ${MAX_CHANGES} changes`)
      }
      if (message.changes !== undefined) {
        for (const item of array(message.changes, 'changes')) {
          const change = parseChange(item)
          if (change.kind === 'too-large' && !(reportTooLarge && change.size > max)) {
            throw violation(`a too-large change of ${change.size} bytes under the ${max}-byte cap`)
          }
          changes.push(change)
        }
      }
      if (message.skipped !== undefined) {
        for (const entry of array(message.skipped, 'skipped')) skipped.push(parseSkipped(entry))
      }
    }
    const reply = await this.call(
      { op: 'changes', maxFileBytes: max, ...(reportTooLarge ? { reportTooLarge } : {}) },
      { ...agentOp('list the changes in the workspace'), onMore: take },
    ).result
    this.checked(() => {
      take(reply)
    })
    return { changes, skipped }
  }

  async pull(
    paths: string[],
    receive: (file: PulledFile) => Promise<FileReceiver>,
    options: { maxFileBytes?: number; signal?: AbortSignal } = {},
  ): Promise<{ pulled: number; missing: string[] }> {
    const max = options.maxFileBytes ?? MAX_PULL_FILE_BYTES
    const missing: string[] = []
    const tooLarge: { path: string; size: number }[] = []
    let pulled = 0
    for (const batch of batches([...new Set(paths)])) {
      const result = await this.pullBatch(batch, receive, max, options.signal)
      pulled += result.pulled
      missing.push(...result.missing)
      tooLarge.push(...result.tooLarge)
    }
    if (tooLarge.length > 0) {
      const first = tooLarge[0] as { path: string; size: number }
      throw new SafeCoderError(
        'SANDBOX_FAILED',
        `Cannot copy ${JSON.stringify(first.path)}${tooLarge.length > 1 ? ` and ${tooLarge.length - 1} more` : ''} out of the sandbox: larger than ${max} bytes.`,
        { data: { tooLarge: tooLarge.map((t) => t.path) } },
      )
    }
    return { pulled, missing }
  }

  /**
   * One pull request. Each file's bytes go to its receiver as they arrive, hashed on the way;
   * while a receiver is more than PULL_BUFFER_BYTES behind, the channel is not read (the agent
   * waits), so a file of any size costs bounded memory. With `stream-pull` the sha256 follows
   * the bytes (`fileEnd`), and a file that shrank in the guest meanwhile is discarded.
   */
  private async pullBatch(
    batch: string[],
    receive: (file: PulledFile) => Promise<FileReceiver>,
    max: number,
    signal: AbortSignal | undefined,
  ): Promise<{ pulled: number; missing: string[]; tooLarge: { path: string; size: number }[] }> {
    const stream = this.hello.features.includes('stream-pull')
    const requested = new Set(batch)
    const delivered = new Set<string>()
    interface Incoming extends PulledFile {
      sha256: string | undefined
      hash: Hash
      received: number
      /** The receiver, once open, after every chunk written so far. */
      written: Promise<FileReceiver>
    }
    let current: Incoming | undefined
    let queue: Promise<void> = Promise.resolve()
    let pending = 0
    let pulled = 0
    let failure: Error | undefined
    const fail = (error: unknown): void => {
      failure ??= error as Error
      call.abandon(failure)
    }

    function complete(): void {
      const file = current as Incoming
      current = undefined
      finish(file, file.sha256 as string)
    }

    /** Commits (or, `false`, discards) the file once its bytes are written, then acknowledges it. */
    const finish = (file: Incoming, sha256: string | false): void => {
      if (sha256 !== false && file.hash.digest('hex') !== sha256) {
        void file.written.then((receiver) => receiver.discard()).catch(() => undefined)
        throw violation(`the content of ${JSON.stringify(file.path)} does not match its sha256`)
      }
      queue = file.written.then(
        async (receiver) => {
          if (failure !== undefined) return receiver.discard()
          if (sha256 === false) await receiver.discard()
          else {
            await receiver.commit()
            pulled++
          }
          if (!call.settled()) this.writeJson(call.id, { op: 'ack' })
        },
        () => undefined,
      )
      queue.catch(fail)
    }

    const call: Call = this.call(
      { op: 'pull', paths: batch, maxFileBytes: max, ...(stream ? { stream } : {}) },
      {
        signal,
        onMore: (message) => {
          if (message.fileEnd !== undefined) {
            if (!stream || current === undefined) throw violation('a file end outside a file')
            const end = object(message.fileEnd, 'a file end')
            const file = current
            current = undefined
            if (end.changed === true) finish(file, false)
            else if (file.received !== file.size) {
              throw violation(
                `the end of ${JSON.stringify(file.path)} after ${file.received} of its ${file.size} bytes`,
              )
            } else finish(file, sha256Field(end.sha256, `the sha256 of ${file.path}`))
            return
          }
          const header = object(message.file, 'a pulled file header')
          const path = relativePath(header.path, 'a pulled path')
          if (!requested.has(path))
            throw violation(`a pulled file ${JSON.stringify(path)} that was not asked for`)
          if (delivered.has(path)) throw violation(`the pulled file ${JSON.stringify(path)} twice`)
          if (current !== undefined) {
            throw violation(
              `a new file before the ${current.size} bytes of ${JSON.stringify(current.path)}`,
            )
          }
          delivered.add(path)
          const file: PulledFile = {
            path,
            mode: integer(header.mode, `the mode of ${path}`, 0o7777),
            size: integer(header.size, `the size of ${path}`, max),
          }
          const opened = queue.then(() => receive(file))
          opened.catch(fail)
          current = {
            ...file,
            sha256: stream ? undefined : sha256Field(header.sha256, `the sha256 of ${path}`),
            hash: createHash('sha256'),
            received: 0,
            written: opened,
          }
          if (!stream && file.size === 0) complete()
        },
        onData: (kind, payload) => {
          if (kind !== FrameKind.file) throw violation(`a frame of kind ${kind} in a pull`)
          if (current === undefined) throw violation('file data outside a pulled file')
          const file = current
          file.received += payload.length
          if (file.received > file.size) {
            throw violation(`more than the ${file.size} bytes of ${JSON.stringify(file.path)}`)
          }
          file.hash.update(payload)
          pending += payload.length
          file.written = file.written.then(async (receiver) => {
            await receiver.write(payload)
            pending -= payload.length
            return receiver
          })
          file.written.catch(fail)
          if (pending > PULL_BUFFER_BYTES) this.inputHolds.hold(file.written, signal)
          if (!stream && file.received === file.size) complete()
        },
        error: (code, message) =>
          new SafeCoderError(
            'SANDBOX_FAILED',
            `Cannot copy files out of the sandbox: ${message} (${code}).`,
          ),
        aborted: () =>
          new SafeCoderError('ABORTED', 'Copying files out of the sandbox was cancelled.'),
      },
    )

    let reply: JsonObject
    try {
      reply = await call.result
    } catch (error) {
      await settleQueue()
      throw failure ?? error
    }
    await queue.catch(() => undefined)
    if (failure !== undefined) throw failure
    return this.checked(() => {
      if (current !== undefined) {
        throw violation(`the pull ended inside ${JSON.stringify(current.path)}`)
      }
      const missing = array(reply.missing ?? [], 'missing').map((p) => {
        const path = relativePath(p, 'a missing path')
        if (!requested.has(path) || delivered.has(path)) {
          throw violation(
            `a missing path ${JSON.stringify(path)} that was not asked for or was sent`,
          )
        }
        return path
      })
      const tooLarge = array(reply.tooLarge ?? [], 'tooLarge').map((t) => {
        const entry = object(t, 'a tooLarge entry')
        const path = relativePath(entry.path, 'a too large path')
        if (!requested.has(path))
          throw violation(`a too large path ${JSON.stringify(path)} not asked for`)
        return { path, size: integer(entry.size, `the size of ${path}`) }
      })
      return { pulled, missing, tooLarge }
    })

    /** After a failed pull: what was delivered is finished, a file cut off is discarded. */
    async function settleQueue(): Promise<void> {
      await queue.catch(() => undefined)
      const cut = current
      current = undefined
      await cut?.written.then((receiver) => receiver.discard()).catch(() => undefined)
    }
  }

  async stats(): Promise<AgentStats> {
    // Polled every second by the gauges: a stalled agent must not pile requests up.
    const call = this.call({ op: 'stats' }, agentOp('read the sandbox resource figures'))
    const timer = setTimeout(() => {
      call.abandon(
        new SafeCoderError(
          'TIMEOUT',
          `The sandbox agent did not report its figures within ${STATS_TIMEOUT_MS} ms.`,
        ),
      )
    }, STATS_TIMEOUT_MS)
    let reply: JsonObject
    try {
      reply = await call.result
    } finally {
      clearTimeout(timer)
    }
    return this.checked(() => ({
      cpuSeconds: finite(reply.cpuSeconds, 'cpuSeconds'),
      cpuCount: integer(reply.cpuCount, 'cpuCount', 1_000_000),
      memoryTotalBytes: integer(reply.memoryTotalBytes, 'memoryTotalBytes'),
      memoryUsedBytes: integer(reply.memoryUsedBytes, 'memoryUsedBytes'),
      pids: integer(reply.pids, 'pids'),
    }))
  }

  async shutdown(timeoutMs = DEFAULT_SHUTDOWN_MS): Promise<void> {
    const call = this.call({ op: 'shutdown' }, agentOp('shut the sandbox agent down'))
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new SafeCoderError(
            'TIMEOUT',
            `The sandbox agent did not shut down within ${timeoutMs} ms.`,
          ),
        )
      }, timeoutMs)
    })
    try {
      await Promise.race([call.result, timeout])
    } finally {
      clearTimeout(timer)
      this.close()
    }
  }

  close(): void {
    this.shut(undefined, false)
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Closing                                                                                 */
  /* ---------------------------------------------------------------------------------------- */

  /** Runs a check of a final reply; a violation closes the channel and is thrown as its error. */
  private checked<T>(check: () => T): T {
    try {
      return check()
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error
      this.violated(error)
      throw this.closedError()
    }
  }

  /** The channel broke (or the agent went away) while it was open. */
  private fail(error: SafeCoderError): void {
    this.shut(error, false)
  }

  /**
   * Closes once: rejects what is pending with `error` (SANDBOX_GONE "closed" when none), stops
   * decoding, ends the stream (`destroy` at once when the agent misbehaved).
   */
  private shut(error: Error | undefined, destroy: boolean): void {
    if (this.closed) return
    this.closed = true
    this.closeError = error ?? gone('the channel was closed by Safe Coder')
    // Said before the decoder drops what it holds: the message names those bytes.
    const helloFailure = this.handshakeDone ? undefined : this.handshakeFailure()
    this.decoder.stop()
    const pending = [...this.pending.values()]
    this.pending.clear()
    for (const handler of pending) handler.fail(this.closeError)
    this.wakeDrain()
    this.onHello?.(helloFailure)
    if (destroy || this.stream.destroyed) {
      this.stream.destroy()
    } else {
      this.stream.end()
      // A peer that never reads would keep the stream open forever.
      setTimeout(() => this.stream.destroy(), 2000).unref()
    }
    try {
      this.options.onClose?.(error)
    } catch {
      // The owner's callback must not break closing.
    }
  }
}

function isFinal(message: JsonObject): boolean {
  return message.ok === true || message.ok === false
}

function gone(why: string, cause?: unknown): SafeCoderError {
  return new SafeCoderError('SANDBOX_GONE', `The sandbox agent went away: ${why}.`, {
    hint: 'The sandbox stopped or its agent died; recreate it (resume the session).',
    ...(cause === undefined ? {} : { cause }),
  })
}

/** The path the agent gets: relative to its root ('' for the root). */
function relativeTo(target: string): string {
  return target === WORKSPACE ? '' : target.slice(WORKSPACE.length + 1)
}

function notify(callback: ((chunk: Uint8Array) => void) | undefined, chunk: Buffer): void {
  try {
    callback?.(chunk)
  } catch {
    // A throwing listener must not break the channel.
  }
}

function cancelled(op: string, path: string): SafeCoderError {
  return new SafeCoderError('ABORTED', `${op} of ${JSON.stringify(path)} was cancelled.`)
}

/** Errors of ops that name no path (mark, changes, stats, shutdown). */
function agentOp(what: string): Pick<CallOptions, 'error' | 'aborted'> {
  return {
    error: (code, message) =>
      new SafeCoderError('SANDBOX_FAILED', `Cannot ${what}: ${message} (${code}).`),
    aborted: () => new SafeCoderError('ABORTED', `Cancelled: ${what}.`),
  }
}

/** The Docker backend's messages for the same failures (src/sandbox/docker/docker-sandbox.ts). */
function fileError(code: string, message: string, op: string, path: string): SafeCoderError {
  return pathError(
    code,
    message,
    `Cannot ${op} ${JSON.stringify(path)} in the sandbox`,
    op === 'list' ? 'not a directory' : 'not a regular file',
    () => cancelled(op, path),
    { path },
  )
}

function pathError(
  code: string,
  message: string,
  what: string,
  wrongKind: string,
  cancel: () => SafeCoderError,
  data: Record<string, unknown> = {},
): SafeCoderError {
  switch (code) {
    case 'OUTSIDE':
      return new SafeCoderError(
        'PATH_REJECTED',
        `${what}: it resolves to a place outside /workspace.`,
        {
          hint: 'A symlink on the path leads out of the workspace; use a path inside it.',
          data,
        },
      )
    case 'MISSING':
      return new SafeCoderError('NOT_FOUND', `${what}: no such file or directory.`, { data })
    case 'WRONG_KIND':
      return new SafeCoderError('PATH_REJECTED', `${what}: ${wrongKind}.`, { data })
    case 'NOT_DIR':
      return new SafeCoderError(
        'PATH_REJECTED',
        `${what}: a parent on the path is not a directory.`,
        {
          data,
        },
      )
    case 'CANCELLED':
      return cancel()
    default:
      return failedError(code, message, what, data)
  }
}

/**
 * Errno failures a tool's caller chose the path for (a name too long, a directory where a file
 * was asked for, a read-only file) are the caller's to fix, like a path outside /workspace; a full
 * disk is the machine's. Anything else is the sandbox failing.
 */
const CALLER_ERRNOS: Record<string, string> = {
  ENAMETOOLONG: 'a name on the path is too long (at most 255 bytes a name, 4,096 a path)',
  EISDIR: 'it is a directory',
  ENOTEMPTY: 'the directory is not empty',
  EEXIST: 'something already exists there',
  ELOOP: 'too many symlinks on the path',
  EACCES: 'permission denied inside the sandbox',
  EPERM: 'operation not permitted inside the sandbox',
  EROFS: 'that part of the sandbox is read-only',
}

function failedError(
  code: string,
  message: string,
  what: string,
  data: Record<string, unknown>,
): SafeCoderError {
  const errno = code === 'FAILED' ? /^(E[A-Z]+)\b/.exec(message)?.[1] : undefined
  const reason = errno === undefined ? undefined : CALLER_ERRNOS[errno]
  if (reason !== undefined) {
    return new SafeCoderError('PATH_REJECTED', `${what}: ${reason}.`, {
      hint: 'Choose another path, or change the one in the way first.',
      data: { ...data, errno },
    })
  }
  if (errno === 'ENOSPC' || errno === 'EDQUOT') return diskFullError(what, errno, data)
  return new SafeCoderError('SANDBOX_FAILED', `${what}: ${message} (agent: ${code}).`, { data })
}

/** Splits paths into pull requests whose JSON stays well under a frame. */
function batches(paths: string[]): string[][] {
  const out: string[][] = []
  let batch: string[] = []
  let bytes = 0
  for (const path of paths) {
    const size = Buffer.byteLength(JSON.stringify(path)) + 1
    if (bytes + size > PULL_BATCH_BYTES && batch.length > 0) {
      out.push(batch)
      batch = []
      bytes = 0
    }
    batch.push(path)
    bytes += size
  }
  if (batch.length > 0) out.push(batch)
  return out
}
