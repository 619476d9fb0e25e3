import { lastSegment, sanitizeLine } from './sanitize.js'
import type { LogLine, LogRing } from './types.js'

/** A log ring the reducer can write to (panes only see {@link LogRing}). */
export interface WritableLogRing extends LogRing {
  /** O(1); when full, the oldest line falls off. Bumps `pushed` and `version`. */
  push(line: LogLine): void
}

/** A fixed-capacity ring of log lines (capacity at least 1). */
export function createLogRing(capacity: number): WritableLogRing {
  return new Ring(Math.max(1, Math.floor(capacity)))
}

class Ring implements WritableLogRing {
  readonly #buffer: LogLine[] = []
  #length = 0
  #pushed = 0
  #version = 0

  constructor(readonly capacity: number) {}

  get length(): number {
    return this.#length
  }

  get pushed(): number {
    return this.#pushed
  }

  get version(): number {
    return this.#version
  }

  at(index: number): LogLine | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.#length) return undefined
    return this.#buffer[(this.#pushed - this.#length + index) % this.capacity]
  }

  push(line: LogLine): void {
    if (this.#buffer.length < this.capacity) this.#buffer.push(line)
    else this.#buffer[this.#pushed % this.capacity] = line
    this.#pushed++
    if (this.#length < this.capacity) this.#length++
    this.#version++
  }
}

/** Longest line kept, in characters; the rest is cut and the cut is marked. */
export const MAX_LINE_LENGTH = 2000

/** A line that has started but not ended yet: raw text, and how much of it was already cut. */
export interface LineCarry {
  readonly text: string
  readonly dropped: number
}

export const emptyCarry: LineCarry = { text: '', dropped: 0 }

export interface SplitResult {
  /** Completed lines, sanitised and capped. */
  lines: string[]
  carry: LineCarry
}

/**
 * Splits a chunk of output into complete lines. Chunks split lines anywhere, so the unfinished
 * tail is carried to the next call (`flushCarry` ends it when the process exits). The carry is
 * kept small: `\r` overwrites collapse to their last segment (a progress bar that never prints a
 * newline stays one short line), and a line without an end is cut at a few times
 * `maxLineLength` raw characters.
 */
export function splitLines(
  carry: LineCarry,
  chunk: string,
  maxLineLength = MAX_LINE_LENGTH,
): SplitResult {
  const text = carry.text + chunk
  const lines: string[] = []
  let dropped = carry.dropped
  let start = 0
  for (let end = text.indexOf('\n', start); end !== -1; end = text.indexOf('\n', start)) {
    lines.push(finishLine(text.slice(start, end), dropped, maxLineLength))
    dropped = 0
    start = end + 1
  }
  let rest = start === 0 ? text : text.slice(start)
  if (rest.includes('\r')) {
    const collapsed = collapseReturns(rest)
    if (collapsed.overwritten) dropped = 0
    rest = collapsed.text
  }
  const bound = maxLineLength * 4
  if (rest.length > bound) {
    dropped += rest.length - bound
    rest = rest.slice(0, bound)
  }
  return { lines, carry: rest === '' && dropped === 0 ? emptyCarry : { text: rest, dropped } }
}

/** The carried partial line as a last line, when there is one. */
export function flushCarry(carry: LineCarry, maxLineLength = MAX_LINE_LENGTH): string[] {
  if (carry.text === '' && carry.dropped === 0) return []
  return [finishLine(carry.text, carry.dropped, maxLineLength)]
}

function finishLine(raw: string, dropped: number, maxLineLength: number): string {
  let line = sanitizeLine(raw.includes('\r') ? lastSegment(raw) : raw)
  let cut = dropped
  if (line.length > maxLineLength) {
    cut += line.length - maxLineLength
    line = line.slice(0, maxLineLength)
  }
  return cut > 0 ? `${line} … [${cut} chars cut]` : line
}

/** Keeps the last non-empty `\r` segment, and a trailing `\r` so the next text overwrites it. */
function collapseReturns(text: string): { text: string; overwritten: boolean } {
  const segments = text.split('\r')
  let last = segments.length - 1
  while (last > 0 && segments[last] === '') last--
  const kept = segments[last] ?? ''
  return { text: last < segments.length - 1 ? `${kept}\r` : kept, overwritten: last > 0 }
}
