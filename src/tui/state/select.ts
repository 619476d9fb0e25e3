import type { LogRing, SessionView, ViewState } from './types.js'

/** Small pure reads of the state for the panes. */

export function focusedSession(state: ViewState): SessionView | undefined {
  return state.focused === undefined ? undefined : state.sessions[state.focused]
}

/** Eight levels, lowest first; each one column wide. */
export const SPARK_BLOCKS = '▁▂▃▄▅▆▇█'

/**
 * The last `width` values as a bar per value, right-aligned (padded with spaces on the left, so
 * the newest sample is always at the right edge). `max` is the top of the scale (default: the
 * largest value shown); values are clamped to 0…max, and a non-finite one is a space.
 */
export function sparkline(values: readonly number[], width: number, max?: number): string {
  if (width <= 0) return ''
  const shown = values.slice(-Math.floor(width))
  const top = max ?? Math.max(0, ...shown.filter((v) => Number.isFinite(v)))
  const bars = shown.map((v) => {
    if (!Number.isFinite(v)) return ' '
    const level = top > 0 ? Math.round((Math.min(Math.max(v, 0), top) / top) * 7) : 0
    return SPARK_BLOCKS[level] ?? ' '
  })
  return ' '.repeat(Math.floor(width) - bars.length) + bars.join('')
}

export type SearchDirection = 'forward' | 'backward'

/**
 * The index of the next held line containing `query` (case-insensitive), starting after
 * `fromIndex` (exclusive; pass -1 forward or `ring.length` backward to search from an end). With
 * `wrap` (the default) the search goes round and ends at `fromIndex` itself. Undefined when
 * nothing matches or the query is empty. Indexes are held-line indexes (0 = oldest held), valid
 * until the ring moves.
 */
export function searchLog(
  ring: LogRing,
  query: string,
  fromIndex: number,
  direction: SearchDirection = 'forward',
  wrap = true,
): number | undefined {
  const needle = query.toLowerCase()
  const length = ring.length
  if (needle === '' || length === 0) return undefined
  const step = direction === 'forward' ? 1 : -1
  for (let i = 1; i <= length; i++) {
    const raw = fromIndex + step * i
    if (!wrap && (raw < 0 || raw >= length)) return undefined
    const index = ((raw % length) + length) % length
    if (ring.at(index)?.text.toLowerCase().includes(needle) === true) return index
  }
  return undefined
}

export type LogFilter = 'all' | 'stdout' | 'stderr'

/**
 * The held-line indexes a stream filter shows, oldest first. `stdout` and `stderr` keep the
 * `meta` lines too (the `$ command` headers and exit footers give the output its context).
 */
export function filterLog(ring: LogRing, stream: LogFilter): number[] {
  const indexes: number[] = []
  for (let i = 0; i < ring.length; i++) {
    if (stream === 'all') {
      indexes.push(i)
      continue
    }
    const line = ring.at(i)
    if (line !== undefined && (line.stream === stream || line.stream === 'meta')) indexes.push(i)
  }
  return indexes
}
