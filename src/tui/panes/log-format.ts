import { ui } from '../blessed.js'
import type { ExecView, LogLine } from '../state/types.js'
import type { Theme } from '../theme.js'
import { sanitizeLine } from '../state/sanitize.js'
import { clip } from './text-fit.js'

/** How one visible log row is drawn. */
export interface LogRowOptions {
  theme: Theme
  /** Columns available; the text is cut to them before any markup is added. */
  width: number
  /** Occurrences are highlighted (smart case). */
  query?: string | undefined
  /** The row holds the current search match. */
  current?: boolean
  /** The exec the line belongs to (footers of failed execs stand out). */
  exec?: ExecView | undefined
}

/** Marks stderr when colour cannot (NO_COLOR): meaning must survive in plain text. */
export const stderrMark = 'err│'

/** One log line as tagged blessed content: escaped, cut to the width, coloured by stream. */
export function formatLogRow(line: LogLine, options: LogRowOptions): string {
  const { theme } = options
  const plainStderr = line.stream === 'stderr' && !theme.color
  const width = plainStderr ? Math.max(0, options.width - stderrMark.length) : options.width
  const text = clip(sanitizeLine(line.text), width)
  const body = highlight(text, options.query, options.current === true)
  switch (line.stream) {
    case 'stdout':
      return body
    case 'stderr':
      return theme.color ? theme.tag(theme.stderr, body) : stderrMark + body
    case 'meta':
      if (line.text.startsWith('$ ')) return `{bold}${theme.tag(theme.accent, body)}{/bold}`
      return theme.tag(failed(options.exec) ? theme.warn : theme.dim, body)
  }
}

function failed(exec: ExecView | undefined): boolean {
  if (exec === undefined) return false
  return (
    exec.timedOut === true ||
    exec.aborted === true ||
    (exec.exitCode !== undefined && exec.exitCode !== 0)
  )
}

// Inverse video marks matches without colour; the current match is also underlined.
function highlight(text: string, query: string | undefined, current: boolean): string {
  if (query === undefined || query === '') return ui.escape(text)
  const caseless = query === query.toLowerCase()
  const haystack = caseless ? text.toLowerCase() : text
  // Lower-casing can change lengths (rare scripts); offsets would then be wrong.
  if (haystack.length !== text.length) return ui.escape(text)
  const open = current ? '{inverse}{underline}' : '{inverse}'
  const close = current ? '{/underline}{/inverse}' : '{/inverse}'
  let out = ''
  let from = 0
  for (let at = haystack.indexOf(query); at !== -1; at = haystack.indexOf(query, from)) {
    out += ui.escape(text.slice(from, at)) + open + ui.escape(text.slice(at, at + query.length))
    out += close
    from = at + query.length
  }
  return out + ui.escape(text.slice(from))
}
