/**
 * The agent: one Agent per process (it owns the workspace manifest), one Connection per host
 * (stdio has one for its lifetime; a virtio-serial device gets a new one each time it is
 * reopened). A connection decodes frames, runs requests concurrently (multiplexed by id) and
 * writes their replies with the channel's backpressure.
 */

import { spawnSync } from 'node:child_process'
import { release } from 'node:os'
import type { Readable, Writable } from 'node:stream'
import type { RequestContext } from './context.js'
import { parseExec, runExec } from './exec.js'
import { listOp, JsonChunker, readOp, statOp, writeOp } from './files.js'
import { killTree } from './kill.js'
import { AgentError, type Root } from './paths.js'
import {
  AGENT_FEATURES,
  CONTROL_OPS,
  encodeHeader,
  encodeJson,
  FrameDecoder,
  FrameKind,
  MAX_FRAME_BYTES,
  MAX_PULL_FILE_BYTES,
  MIN_FRAME_BYTES,
  parseJson,
  PROTOCOL,
  ProtocolError,
  type Frame,
  type HelloMessage,
  type JsonObject,
} from './protocol.js'
import { pullOp } from './pull.js'
import { readStats } from './stats.js'
import { Tree } from './tree.js'
import { AGENT_VERSION } from './version.js'

export type Log = (line: string) => void

export interface ConnectionOptions {
  /**
   * Device mode: the first bytes may be stale, so skip to the first hello request; after a
   * malformed frame, reset and hunt again instead of ending. Writes block until a host is
   * there, so the unsolicited hello waits for the host's first bytes.
   */
  device: boolean
}

export type ConnectionEnd =
  | { reason: 'eof' }
  | { reason: 'error'; detail: string }
  | { reason: 'protocol'; detail: string }
  | { reason: 'shutdown' }

export class Agent {
  readonly tree: Tree
  private connections = 0
  private execs = 0
  /** Kill functions of the commands still running, across connections. */
  readonly running = new Set<() => void>()
  readonly markerPrefix = `a${process.pid}.`

  constructor(
    readonly root: Root,
    readonly log: Log,
  ) {
    this.tree = new Tree(root)
  }

  connect(input: Readable, output: Writable, options: ConnectionOptions): Connection {
    return new Connection(this, ++this.connections, input, output, options)
  }

  hello(connection: number): HelloMessage {
    return {
      op: 'hello',
      protocol: PROTOCOL,
      version: AGENT_VERSION,
      kernel: release(),
      pid: process.pid,
      root: this.root.logical,
      connection,
      features: [...AGENT_FEATURES],
    }
  }

  nextMarker(): string {
    return `${this.markerPrefix}${++this.execs}`
  }

  /** Kills every command this agent started, and whatever they left behind. */
  killAll(): void {
    for (const kill of [...this.running]) kill()
    killTree(undefined, this.markerPrefix, true)
  }
}

interface Active {
  ctx: RequestContext
  controller: AbortController
}

function isHelloRequest(frame: Frame, message: JsonObject): boolean {
  return frame.id !== 0 && message.op === 'hello'
}

export class Connection {
  private readonly decoder: FrameDecoder
  private readonly requests = new Map<number, Active>()
  private maxFrame = MAX_FRAME_BYTES
  private congested = false
  private waiters: (() => void)[] = []
  private helloSent = false
  private ended = false
  private resolveDone!: (end: ConnectionEnd) => void
  /** Resolves once, when the connection is over (the host went, broke the protocol, or asked). */
  readonly done = new Promise<ConnectionEnd>((resolve) => (this.resolveDone = resolve))

  constructor(
    private readonly agent: Agent,
    private readonly number: number,
    private readonly input: Readable,
    private readonly output: Writable,
    private readonly options: ConnectionOptions,
  ) {
    this.decoder = new FrameDecoder(
      { maxPayload: MAX_FRAME_BYTES, ...(options.device ? { hunt: isHelloRequest } : {}) },
      (frame) => {
        this.onFrame(frame)
      },
    )
    input.on('data', (chunk: Buffer) => {
      this.onBytes(chunk)
    })
    input.once('end', () => {
      this.end({ reason: 'eof' })
    })
    input.once('close', () => {
      this.end({ reason: 'eof' })
    })
    input.once('error', (error) => {
      this.end({ reason: 'error', detail: error.message })
    })
    output.on('drain', () => {
      this.wake()
    })
    output.once('error', (error) => {
      this.end({ reason: 'error', detail: error.message })
    })
    if (!options.device) this.sendHello()
  }

  /** The unsolicited hello (id 0). */
  sendHello(): void {
    if (this.helloSent) return
    this.helloSent = true
    this.writeJson(0, this.agent.hello(this.number))
  }

  private onBytes(chunk: Buffer): void {
    if (this.ended) return
    // Proof that a host is there: writing will not block now.
    if (!this.helloSent) this.sendHello()
    try {
      this.decoder.push(chunk)
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error
      this.protocolError(error.message)
    }
  }

  private protocolError(detail: string): void {
    this.agent.log(`the host sent a malformed frame: ${detail}`)
    this.writeJson(0, { op: 'error', code: 'PROTOCOL', message: `malformed frame: ${detail}` })
    if (!this.options.device) {
      this.end({ reason: 'protocol', detail })
      return
    }
    // A device outlives its hosts: drop this host's state and wait for a new hello.
    this.abortAll()
    this.decoder.startHunting(isHelloRequest)
  }

  private onFrame(frame: Frame): void {
    if (frame.kind !== FrameKind.json) {
      if (frame.kind !== FrameKind.stdin && frame.kind !== FrameKind.file) {
        throw new ProtocolError(`a frame of kind ${frame.kind}, which only the agent sends`)
      }
      // Data for a request that has already finished (a command that exited before reading its
      // stdin, a write refused early) is dropped.
      this.requests.get(frame.id)?.ctx.onData?.(frame.kind, frame.payload)
      return
    }
    const message = parseJson(frame.payload)
    const op = message.op
    if (typeof op !== 'string') throw new ProtocolError('a JSON message without an op')
    if (frame.id === 0) throw new ProtocolError(`request id 0 (reserved for the agent), op ${op}`)
    if ((CONTROL_OPS as readonly string[]).includes(op)) {
      const active = this.requests.get(frame.id)
      if (active === undefined) return
      active.ctx.onControl?.(op)
      if (op === 'cancel') active.controller.abort()
      return
    }
    if (this.requests.has(frame.id)) {
      throw new ProtocolError(`request id ${frame.id} is already in use (op ${op})`)
    }
    this.start(frame.id, op, message)
  }

  private start(id: number, op: string, message: JsonObject): void {
    const controller = new AbortController()
    const ctx: RequestContext = {
      id,
      signal: controller.signal,
      maxFrame: this.maxFrame,
      write: (kind, payload) => this.write(kind, id, payload),
      drained: () => this.drained(),
      send: (kind, payload) => {
        this.write(kind, id, payload)
        return this.drained()
      },
      sendJson: (msg) => {
        this.writeJson(id, msg)
        return this.drained()
      },
      onData: undefined,
      onControl: undefined,
    }
    this.requests.set(id, { ctx, controller })
    const finish = (reply: object): void => {
      if (this.requests.get(id)?.ctx !== ctx) return
      this.requests.delete(id)
      if (op === 'shutdown' && !this.ended) {
        this.output.write(encodeJson(id, reply), () => {
          this.end({ reason: 'shutdown' })
        })
        return
      }
      this.writeJson(id, reply)
    }
    this.handle(ctx, op, message).then(finish, (error: unknown) => {
      finish(errorReply(error))
    })
  }

  private async handle(ctx: RequestContext, op: string, message: JsonObject): Promise<object> {
    const { root, tree } = this.agent
    switch (op) {
      case 'hello': {
        const asked = message.maxFrameBytes
        if (typeof asked === 'number' && Number.isInteger(asked)) {
          this.maxFrame = Math.min(MAX_FRAME_BYTES, Math.max(MIN_FRAME_BYTES, asked))
        }
        return { ok: true, ...this.agent.hello(this.number) }
      }
      case 'exec': {
        const spec = parseExec(root, message)
        return runExec(ctx, spec, this.agent.nextMarker(), (kill) => {
          this.agent.running.add(kill)
          return () => this.agent.running.delete(kill)
        })
      }
      case 'read':
        return readOp(ctx, root, message)
      case 'write':
        return writeOp(ctx, root, message)
      case 'stat':
        return statOp(root, message)
      case 'list':
        return listOp(ctx, root, message)
      case 'mark':
        return { ok: true, ...(await tree.mark()) }
      case 'changes': {
        const max =
          typeof message.maxFileBytes === 'number' && Number.isSafeInteger(message.maxFileBytes)
            ? message.maxFileBytes
            : MAX_PULL_FILE_BYTES
        const result = await tree.changes(max, message.reportTooLarge === true)
        const chunker = new JsonChunker(ctx, 'changes', 'skipped')
        for (const change of result.changes) await chunker.add(change, 'changes')
        for (const skipped of result.skipped) await chunker.add(skipped, 'skipped')
        return { ok: true, ...chunker.rest(), files: result.files }
      }
      case 'pull':
        return pullOp(ctx, root, message)
      case 'stats':
        return readStats()
      case 'shutdown':
        this.agent.killAll()
        spawnSync('sync', { stdio: 'ignore', timeout: 60_000 })
        return { ok: true }
      default:
        throw new AgentError('UNKNOWN_OP', `unknown op ${JSON.stringify(op.slice(0, 40))}`)
    }
  }

  /** Writes one frame; false when the channel is congested. */
  private write(kind: FrameKind, id: number, payload: Buffer): boolean {
    if (this.ended) return false
    const header = encodeHeader(kind, id, payload.length)
    let ok: boolean
    if (payload.length < 16 * 1024) {
      ok = this.output.write(Buffer.concat([header, payload]))
    } else {
      this.output.write(header)
      ok = this.output.write(payload)
    }
    if (!ok) this.congested = true
    return !this.congested
  }

  private writeJson(id: number, message: object): boolean {
    return this.write(FrameKind.json, id, Buffer.from(JSON.stringify(message), 'utf8'))
  }

  private drained(): Promise<void> {
    if (!this.congested || this.ended) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  private wake(): void {
    this.congested = false
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }

  /** Cancels every request of this host (running commands are killed). */
  private abortAll(): void {
    for (const { controller } of this.requests.values()) controller.abort()
    this.requests.clear()
    this.agent.killAll()
  }

  private end(end: ConnectionEnd): void {
    if (this.ended) return
    this.ended = true
    this.decoder.stop()
    this.abortAll()
    this.wake()
    this.resolveDone(end)
  }
}

function errorReply(error: unknown): object {
  if (error instanceof AgentError) {
    return { ok: false, code: error.code, message: error.message.slice(0, 1000) }
  }
  const message = error instanceof Error ? error.message : String(error)
  return { ok: false, code: 'FAILED', message: message.slice(0, 1000) }
}
