import { ui } from '../blessed.js'
import { sanitizeLine } from '../state/sanitize.js'
import type { TimelineEntry } from '../state/types.js'
import type { Theme } from '../theme.js'
import { fit, fitRight } from './text-fit.js'

/** `now`, `45s`, `3m`, `2h`, `5d`: fits the 4-column age column. */
export function relativeTime(ms: number): string {
  const s = Math.floor(ms / 1000)
  if (s < 5) return 'now'
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m`
  if (s < 86_400) return `${Math.floor(s / 3600)}h`
  return `${Math.floor(s / 86_400)}d`
}

/** "bash: npm test\n\nSession: …" → tool `bash`, summary `npm test`. */
export function splitMessage(message: string): { tool: string; summary: string } {
  const subject = sanitizeLine(message.split('\n', 1)[0] ?? '')
  const match = /^([\w.-]+):\s*(.*)$/.exec(subject)
  return match === null
    ? { tool: '', summary: subject }
    : { tool: match[1] ?? '', summary: match[2] ?? '' }
}

export interface TimelineRowOptions {
  theme: Theme
  width: number
  now: number
  selected: boolean
}

/**
 * One commit as a row of fixed columns (marker, short id, tool, summary, files, +/-, age),
 * padded to the width so a selected row's background spans it. Narrow panes drop the files, then
 * then the line counts, and shorten the tool column.
 */
export function timelineRow(entry: TimelineEntry, options: TimelineRowOptions): string {
  const { theme, width } = options
  const { tool, summary } = splitMessage(entry.message)
  const files = entry.changed.length
  const delta =
    entry.added === undefined && entry.removed === undefined
      ? ''
      : `+${entry.added ?? 0} -${entry.removed ?? 0}`
  const cols: { text: string; width: number; color?: string; right?: boolean }[] = [
    { text: options.selected ? '▸' : ' ', width: 1 },
    { text: entry.commit.slice(0, 7), width: 7, color: theme.accent },
  ]
  // Narrow panes keep the tool (a shorter column): "README.md" twice says nothing without it.
  cols.push({ text: tool, width: width >= 36 ? 10 : 5, color: theme.dim })
  const tail: typeof cols = []
  if (width >= 60)
    tail.push({ text: `${files} file${files === 1 ? '' : 's'}`, width: 8, right: true })
  if (width >= 48) tail.push({ text: delta, width: 11, right: true })
  tail.push({ text: relativeTime(options.now - entry.at), width: 4, right: true, color: theme.dim })
  const used = [...cols, ...tail].reduce((sum, c) => sum + c.width + 1, 0)
  cols.push({ text: summary, width: Math.max(0, width - used) }, ...tail)
  const row = cols
    .map((c) => {
      const text = ui.escape(c.right === true ? fitRight(c.text, c.width) : fit(c.text, c.width))
      if (c.text === delta && delta !== '') return colourDelta(theme, text)
      return c.color === undefined ? text : theme.tag(c.color, text)
    })
    .join(' ')
  if (!options.selected) return row
  return theme.color
    ? `{${theme.selectedBg}-bg}${row}{/${theme.selectedBg}-bg}`
    : `{inverse}${row}{/inverse}`
}

function colourDelta(theme: Theme, text: string): string {
  return text
    .replace(/\+\d+/, (a) => theme.tag(theme.added, a))
    .replace(/-\d+/, (r) => theme.tag(theme.removed, r))
}
