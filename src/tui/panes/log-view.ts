import type { LogFilter } from '../state/select.js'
import type { LogLine, LogRing } from '../state/types.js'

/**
 * Navigation over a log ring by absolute line number (0 = the first line ever pushed), so a
 * paused view stays on the same lines while new ones arrive and old ones fall off. Every
 * function touches only the lines it walks past: a frame costs the visible rows, not the ring.
 */

export type { LogFilter }

/** The oldest absolute line still held. */
export function firstLine(ring: LogRing): number {
  return ring.pushed - ring.length
}

export function lineAt(ring: LogRing, abs: number): LogLine | undefined {
  return ring.at(abs - firstLine(ring))
}

// Exec headers and footers stay in filtered views: they say which command the output is from.
export function passes(line: LogLine, filter: LogFilter): boolean {
  return filter === 'all' || line.stream === 'meta' || line.stream === filter
}

/** The last `rows` lines that pass the filter, oldest first. */
export function tailRows(ring: LogRing, filter: LogFilter, rows: number): number[] {
  const out: number[] = []
  const first = firstLine(ring)
  for (let abs = ring.pushed - 1; abs >= first && out.length < rows; abs--) {
    const line = lineAt(ring, abs)
    if (line !== undefined && passes(line, filter)) out.push(abs)
  }
  return out.reverse()
}

/** Up to `rows` lines that pass the filter, from `top` on. */
export function rowsFrom(ring: LogRing, filter: LogFilter, top: number, rows: number): number[] {
  const out: number[] = []
  for (let abs = Math.max(top, firstLine(ring)); abs < ring.pushed && out.length < rows; abs++) {
    const line = lineAt(ring, abs)
    if (line !== undefined && passes(line, filter)) out.push(abs)
  }
  return out
}

/** Moves `by` passing lines from `from` (negative: older), stopping at either end. */
export function step(ring: LogRing, filter: LogFilter, from: number, by: number): number {
  const first = firstLine(ring)
  let at = Math.min(Math.max(from, first), ring.pushed - 1)
  const dir = by < 0 ? -1 : 1
  for (let left = Math.abs(by); left > 0;) {
    const next = at + dir
    if (next < first || next >= ring.pushed) break
    at = next
    const line = lineAt(ring, at)
    if (line !== undefined && passes(line, filter)) left--
  }
  return at
}

/** Smart case, as in vim and less: case-insensitive unless the query has a capital. */
export function matcher(query: string): (text: string) => boolean {
  if (query !== query.toLowerCase()) return (text) => text.includes(query)
  return (text) => text.toLowerCase().includes(query)
}

/**
 * The next line (in `dir`) after `from` that passes the filter and contains the query, wrapping
 * around the ring once; `wrapped` says it went past an end.
 */
export function findLine(
  ring: LogRing,
  filter: LogFilter,
  query: string,
  from: number,
  dir: 1 | -1,
): { abs: number; wrapped: boolean } | undefined {
  const first = firstLine(ring)
  const count = ring.length
  if (count === 0 || query === '') return undefined
  const test = matcher(query)
  const start = Math.min(Math.max(from, first - 1), ring.pushed)
  for (let i = 1; i <= count; i++) {
    let abs = start + dir * i
    let wrapped = false
    if (abs >= ring.pushed) {
      abs = first + ((abs - ring.pushed) % count)
      wrapped = true
    } else if (abs < first) {
      abs = ring.pushed - 1 - ((first - 1 - abs) % count)
      wrapped = true
    }
    const line = lineAt(ring, abs)
    if (line !== undefined && passes(line, filter) && test(line.text)) return { abs, wrapped }
  }
  return undefined
}
