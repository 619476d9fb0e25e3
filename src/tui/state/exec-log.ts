import {
  createLogRing,
  emptyCarry,
  flushCarry,
  MAX_LINE_LENGTH,
  splitLines,
  type LineCarry,
} from './ring.js'
import type { LogLine, LogRing } from './types.js'

type Stream = 'stdout' | 'stderr'

/** Partial lines of at most this many execs are kept (an exec whose end never came is dropped). */
const MAX_OPEN_EXECS = 64

/**
 * A session's process log: the ring of lines plus each running exec's unfinished lines, one per
 * stream. It is mutable on purpose (see `reduce.ts`): a flood of output must not copy arrays.
 */
export class ExecLog implements LogRing {
  readonly #ring
  readonly #carries = new Map<string, Record<Stream, LineCarry>>()

  constructor(
    capacity: number,
    private readonly maxLineLength?: number,
  ) {
    this.#ring = createLogRing(capacity)
  }

  get capacity(): number {
    return this.#ring.capacity
  }

  get length(): number {
    return this.#ring.length
  }

  get pushed(): number {
    return this.#ring.pushed
  }

  get version(): number {
    return this.#ring.version
  }

  at(index: number): LogLine | undefined {
    return this.#ring.at(index)
  }

  /** A header or footer line of an exec. */
  meta(execId: string, text: string): void {
    const max = this.maxLineLength ?? MAX_LINE_LENGTH
    const line = text.length > max ? `${text.slice(0, max)} …` : text
    this.#ring.push({ execId, stream: 'meta', text: line })
  }

  /** Adds a chunk of output; returns how many complete lines it pushed. */
  write(execId: string, stream: Stream, text: string): number {
    const carries = this.#carries.get(execId) ?? { stdout: emptyCarry, stderr: emptyCarry }
    const { lines, carry } = splitLines(carries[stream], text, this.maxLineLength)
    for (const line of lines) this.#ring.push({ execId, stream, text: line })
    const next = { ...carries, [stream]: carry }
    if (next.stdout === emptyCarry && next.stderr === emptyCarry) this.#carries.delete(execId)
    else {
      this.#carries.set(execId, next)
      if (this.#carries.size > MAX_OPEN_EXECS) {
        const oldest = this.#carries.keys().next().value
        if (oldest !== undefined) this.#carries.delete(oldest)
      }
    }
    return lines.length
  }

  /** Ends an exec: pushes its unfinished lines (stdout first); returns how many. */
  finish(execId: string): number {
    const carries = this.#carries.get(execId)
    if (carries === undefined) return 0
    this.#carries.delete(execId)
    let count = 0
    for (const stream of ['stdout', 'stderr'] as const) {
      for (const line of flushCarry(carries[stream], this.maxLineLength)) {
        this.#ring.push({ execId, stream, text: line })
        count++
      }
    }
    return count
  }
}
