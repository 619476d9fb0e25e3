/**
 * The guest agent's wire protocol (docs/guest-agent.md): length-prefixed frames over one byte
 * stream. Shared verbatim by the agent (inside the sandbox) and the host-side client, so it
 * imports nothing but Node's builtins.
 *
 * Frame: `[u32 BE payload length][u8 kind][u32 BE request id]` + payload.
 */

/** Bumped on any incompatible change. The hello message's shape never changes. */
export const PROTOCOL = 1

export const HEADER_BYTES = 9
/** Largest payload either side sends or accepts by default. */
export const MAX_FRAME_BYTES = 1024 * 1024
/** Smallest payload cap a peer may ask for (a JSON chunk holding one long path must fit). */
export const MIN_FRAME_BYTES = 64 * 1024
/** Largest frame considered while hunting for a hello (see FrameDecoder.hunt). */
export const HUNT_MAX_BYTES = 4096

export const FrameKind = {
  /** A UTF-8 JSON object: a request, a reply, or a control message. */
  json: 1,
  /** Output of a command (agent → host). */
  stdout: 2,
  stderr: 3,
  /** Input of a command (host → agent). */
  stdin: 4,
  /** Bulk file content, both ways (write, read, pull). */
  file: 5,
} as const
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind]

const KINDS = new Set<number>(Object.values(FrameKind))

export function isFrameKind(value: number): value is FrameKind {
  return KINDS.has(value)
}

export interface Frame {
  kind: FrameKind
  id: number
  payload: Buffer
}

/** The peer broke the protocol; the receiver closes the channel. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError'
}

export function encodeHeader(kind: FrameKind, id: number, length: number): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES)
  header.writeUInt32BE(length, 0)
  header.writeUInt8(kind, 4)
  header.writeUInt32BE(id, 5)
  return header
}

export function encodeFrame(kind: FrameKind, id: number, payload: Uint8Array): Buffer {
  return Buffer.concat([encodeHeader(kind, id, payload.byteLength), payload])
}

export function encodeJson(id: number, message: object): Buffer {
  return encodeFrame(FrameKind.json, id, Buffer.from(JSON.stringify(message), 'utf8'))
}

export type JsonObject = Record<string, unknown>

/** Parses a JSON frame's payload; anything but an object is a protocol error. */
export function parseJson(payload: Buffer): JsonObject {
  let value: unknown
  try {
    value = JSON.parse(payload.toString('utf8'))
  } catch {
    throw new ProtocolError(`a JSON frame that does not parse (${describeBytes(payload, 40)})`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError(`a JSON frame that is not an object (${describeBytes(payload, 40)})`)
  }
  return value as JsonObject
}

/** Bytes as printable text for an error message: ASCII kept, the rest as \xNN, cut at `max`. */
export function describeBytes(bytes: Uint8Array, max = 64): string {
  let out = ''
  const end = Math.min(bytes.byteLength, max)
  for (let i = 0; i < end; i++) {
    const b = bytes[i] ?? 0
    if (b >= 0x20 && b < 0x7f && b !== 0x5c && b !== 0x22) out += String.fromCharCode(b)
    else out += `\\x${b.toString(16).padStart(2, '0')}`
  }
  return `"${out}${bytes.byteLength > max ? '…' : ''}"`
}

/** A FIFO of byte chunks that reads across chunk boundaries with as little copying as it can. */
class ByteQueue {
  private chunks: Buffer[] = []
  /** Index of the first live chunk, and the offset of the first live byte in it. */
  private first = 0
  private head = 0
  length = 0

  push(chunk: Buffer): void {
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.length += chunk.length
  }

  /** The first `n` bytes (n ≤ length), without consuming them. */
  peek(n: number): Buffer {
    const first = this.chunks[this.first]
    if (first !== undefined && first.length - this.head >= n) {
      return first.subarray(this.head, this.head + n)
    }
    const out = Buffer.allocUnsafe(n)
    let copied = 0
    let offset = this.head
    for (let i = this.first; i < this.chunks.length && copied < n; i++) {
      const chunk = this.chunks[i] as Buffer
      const take = Math.min(n - copied, chunk.length - offset)
      chunk.copy(out, copied, offset, offset + take)
      copied += take
      offset = 0
    }
    return out
  }

  /** Consumes and returns the first `n` bytes (n ≤ length). */
  read(n: number): Buffer {
    const out = this.peek(n)
    this.skip(n)
    return out
  }

  skip(n: number): void {
    this.length -= n
    while (n > 0) {
      const first = this.chunks[this.first]
      if (first === undefined) break
      const left = first.length - this.head
      if (n < left) {
        this.head += n
        break
      }
      n -= left
      this.first++
      this.head = 0
    }
    // Drop consumed chunks in bulk, not one shift() at a time.
    if (this.first > 1024 || this.first === this.chunks.length) {
      this.chunks = this.chunks.slice(this.first)
      this.first = 0
    }
  }

  clear(): void {
    this.chunks = []
    this.first = 0
    this.head = 0
    this.length = 0
  }
}

export interface FrameDecoderOptions {
  /** Largest payload accepted; a bigger header is a protocol error. */
  maxPayload: number
  /**
   * Start in hunting mode: bytes are skipped until a small JSON frame this predicate accepts
   * (a hello), then decoding is strict. For byte streams where the first bytes may be stale or
   * lost (a virtio-serial port opened mid-stream, a console that printed before the agent).
   */
  hunt?: (frame: Frame, message: JsonObject) => boolean
}

/**
 * Splits a byte stream into frames. Strict mode throws ProtocolError on an oversized payload or
 * an unknown kind (the caller then closes the channel); hunting mode skips such bytes.
 */
export class FrameDecoder {
  private readonly queue = new ByteQueue()
  private readonly maxPayload: number
  private hunt: FrameDecoderOptions['hunt']
  private stopped = false
  /** Bytes skipped while hunting, and the first of them (for an error message). */
  skipped = 0
  skippedPreview: Buffer = Buffer.alloc(0)

  constructor(
    options: FrameDecoderOptions,
    private readonly onFrame: (frame: Frame) => void,
  ) {
    this.maxPayload = options.maxPayload
    this.hunt = options.hunt
  }

  get hunting(): boolean {
    return this.hunt !== undefined
  }

  /** Bytes received but not yet part of a whole frame. */
  get buffered(): number {
    return this.queue.length
  }

  /** The first bytes skipped while hunting, then what is buffered: for an error message. */
  preview(max: number): Buffer {
    const head = this.skippedPreview.subarray(0, max)
    const rest = Math.min(max - head.length, this.queue.length)
    return rest > 0 ? Buffer.concat([head, this.queue.peek(rest)]) : head
  }

  /** Skips bytes until `predicate` accepts a frame (after a peer lost sync). */
  startHunting(hunt: NonNullable<FrameDecoderOptions['hunt']>): void {
    this.hunt = hunt
  }

  /** Drops what is buffered and ignores everything pushed from now on. */
  stop(): void {
    this.stopped = true
    this.queue.clear()
  }

  private isStopped(): boolean {
    return this.stopped
  }

  /** Feeds bytes; calls onFrame for each whole frame. Throws ProtocolError in strict mode. */
  push(chunk: Buffer): void {
    if (this.stopped) return
    this.queue.push(chunk)
    while (!this.isStopped() && this.queue.length >= HEADER_BYTES) {
      if (this.hunt !== undefined) {
        if (!this.huntStep(this.hunt)) return
        continue
      }
      const header = this.queue.peek(HEADER_BYTES)
      const length = header.readUInt32BE(0)
      const kind = header.readUInt8(4)
      const id = header.readUInt32BE(5)
      if (!isFrameKind(kind)) {
        throw new ProtocolError(`a frame of unknown kind ${kind} (header ${describeBytes(header)})`)
      }
      if (length > this.maxPayload) {
        throw new ProtocolError(
          `a frame of ${length} bytes, more than the ${this.maxPayload} allowed (header ${describeBytes(header)})`,
        )
      }
      if (this.queue.length < HEADER_BYTES + length) return
      this.queue.skip(HEADER_BYTES)
      const payload = this.queue.read(length)
      this.onFrame({ kind, id, payload })
    }
  }

  /**
   * One step of the hunt: accept the frame at the head of the queue, or skip one byte.
   * Returns false when more bytes are needed to decide.
   */
  private huntStep(hunt: NonNullable<FrameDecoderOptions['hunt']>): boolean {
    const header = this.queue.peek(HEADER_BYTES)
    const length = header.readUInt32BE(0)
    const kind = header.readUInt8(4)
    const plausible = kind === FrameKind.json && length >= 2 && length <= HUNT_MAX_BYTES
    if (plausible) {
      if (this.queue.length < HEADER_BYTES + length) {
        // Wait for the payload, unless its first byte already rules it out.
        if (this.queue.length === HEADER_BYTES) return false
        const first = this.queue.peek(HEADER_BYTES + 1)[HEADER_BYTES]
        if (first === 0x7b) return false
      } else {
        const frame: Frame = {
          kind: FrameKind.json,
          id: header.readUInt32BE(5),
          payload: this.queue.peek(HEADER_BYTES + length).subarray(HEADER_BYTES),
        }
        let message: JsonObject | undefined
        try {
          message = parseJson(frame.payload)
        } catch {
          message = undefined
        }
        if (message !== undefined && hunt(frame, message)) {
          this.hunt = undefined
          this.queue.skip(HEADER_BYTES + length)
          frame.payload = Buffer.from(frame.payload)
          this.onFrame(frame)
          return true
        }
      }
    }
    if (this.skippedPreview.length < 64) {
      this.skippedPreview = Buffer.concat([this.skippedPreview, header.subarray(0, 1)])
    }
    this.skipped++
    this.queue.skip(1)
    return true
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Messages (the payloads of JSON frames). See docs/guest-agent.md for each op's exchange.   */
/* ------------------------------------------------------------------------------------------ */

/** The agent's introduction: unsolicited with id 0, and the reply to a hello request. */
export interface HelloMessage {
  op: 'hello'
  protocol: number
  version: string
  kernel: string
  pid: number
  root: string
  /** Counts the agent's connections (a device reopened); a higher one means the agent reset. */
  connection: number
  /** Optional behaviours this agent has, which a host may ask for (see AGENT_FEATURES). */
  features: string[]
}

/**
 * What this agent can do beyond protocol 1 as first shipped; a host asks only for what the hello
 * lists, so either side may be older. `stdin-acks`: exec acknowledges stdin as it is consumed.
 * `stream-pull`: `changes` can report files over the cap as `too-large` (size and mode), and
 * `pull` can stream a file in chunks with its sha256 after the bytes.
 */
export const AGENT_FEATURES = ['stdin-acks', 'stream-pull']

/** Requests (host → agent). Each opens a request id; the agent answers it exactly once. */
export type Request =
  | { op: 'hello'; protocol: number; maxFrameBytes?: number }
  | {
      op: 'exec'
      argv: string[]
      /** Relative to the root ('' is the root). */
      cwd: string
      env: Record<string, string>
      user?: { uid: number; gid: number }
      /** Stdin frames follow, then `end`; otherwise stdin is /dev/null. */
      stdin: boolean
      /** With the `stdin-acks` feature: `{ more: true, stdinAck: bytes }` as stdin is consumed. */
      stdinAcks?: boolean
      timeoutMs?: number
    }
  | { op: 'read'; path: string; maxBytes: number }
  | { op: 'write'; path: string; size: number; mode?: number }
  | { op: 'stat'; path: string }
  | { op: 'list'; path: string }
  | { op: 'mark' }
  | { op: 'changes'; maxFileBytes?: number; reportTooLarge?: boolean }
  | { op: 'pull'; paths: string[]; maxFileBytes: number; stream?: boolean }
  | { op: 'stats' }
  | { op: 'shutdown' }

/** Control messages on an open request's id (host → agent); ignored for an unknown id. */
export type Control =
  /** Ends the stdin of an exec, or the data of a write. */
  | { op: 'end' }
  /** Kills an exec's process group (and every process carrying its marker). */
  | { op: 'kill' }
  /** Abandons any request (an exec is killed). */
  | { op: 'cancel' }
  /** A pulled file was consumed (flow control for pull). */
  | { op: 'ack' }

export const REQUEST_OPS = [
  'hello',
  'exec',
  'read',
  'write',
  'stat',
  'list',
  'mark',
  'changes',
  'pull',
  'stats',
  'shutdown',
] as const
export const CONTROL_OPS = ['end', 'kill', 'cancel', 'ack'] as const

/** Error codes in `{ ok: false, code, message }` replies. */
export const ERROR_CODES = [
  /** The path leads out of the root (`..`, or a symlink on it). */
  'OUTSIDE',
  /** No such file or directory. */
  'MISSING',
  /** The path is the wrong kind for the op (a directory to read, a file to list). */
  'WRONG_KIND',
  /** A parent on the path is not a directory. */
  'NOT_DIR',
  'TOO_LARGE',
  /** The operation failed (errno text in the message). */
  'FAILED',
  /** A request the agent does not understand (bad fields). */
  'BAD_REQUEST',
  'UNKNOWN_OP',
  'CANCELLED',
] as const
export type ErrorCode = (typeof ERROR_CODES)[number]

/** Exit report of an exec (its final reply). */
export interface ExitReport {
  ok: true
  /** The exit status, or 128 + the signal number when a signal ended it (as a shell reports). */
  exitCode: number | null
  signal: string | null
  timedOut: boolean
}

/** Header of one pulled file (then `size` bytes of file frames follow). */
export interface PulledFileHeader {
  path: string
  mode: number
  size: number
  sha256: string
}

/** Default and largest file a `changes` hashes and a `pull` sends. */
export const MAX_PULL_FILE_BYTES = 64 * 1024 * 1024
/** Most entries a listing carries (the agent stops there and says `truncated`). */
export const MAX_LIST_ENTRIES = 1_000_000
/** Target size of one chunk of a chunked JSON reply (list, changes). */
export const JSON_CHUNK_BYTES = 256 * 1024
