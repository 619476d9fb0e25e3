import { formatDuration } from '../../shared/format.js'
import { ui } from '../blessed.js'
import type { ChatEntry } from '../state/types.js'
import type { Theme } from '../theme.js'
import { clip, displayWidth } from './text-fit.js'
import { wrapText } from './wrap-text.js'

/**
 * Chat entries as screen rows (blessed tags, text escaped), wrapped to the pane's width. The
 * reducer replaces an entry when it changes, so rows are cached per entry object and a frame
 * while text streams re-wraps only the entry that grew.
 */
export function createChatFormatter(theme: Theme): (entry: ChatEntry, width: number) => string[] {
  const cache = new WeakMap<ChatEntry, { width: number; rows: string[] }>()
  return (entry, width) => {
    const hit = cache.get(entry)
    if (hit?.width === width) return hit.rows
    const rows = formatEntry(entry, Math.max(4, width), theme)
    cache.set(entry, { width, rows })
    return rows
  }
}

function formatEntry(entry: ChatEntry, width: number, theme: Theme): string[] {
  switch (entry.kind) {
    case 'user':
      return [
        '',
        ...wrapText(entry.text, width - 2).map(
          (row, i) => `{bold}${i === 0 ? '› ' : '  '}${ui.escape(row)}{/bold}`,
        ),
      ]
    case 'assistant':
      return wrapText(entry.text, width).map((row) => ui.escape(row))
    case 'tool':
      return [formatTool(entry, width, theme)]
    case 'notice': {
      const color = { info: theme.dim, warn: theme.warn, error: theme.error }[entry.level]
      const prefix = entry.level === 'info' ? '· ' : `${entry.level}: `
      return wrapText(prefix + entry.text, width).map((row) => theme.tag(color, ui.escape(row)))
    }
  }
}

/** `> bash npm test  ok 1.2 s`: one row, the arguments cut to leave room for the outcome. */
function formatTool(entry: Extract<ChatEntry, { kind: 'tool' }>, width: number, theme: Theme) {
  const word = { running: 'running…', ok: 'ok', error: 'error' }[entry.status]
  const color = { running: theme.warn, ok: theme.ok, error: theme.error }[entry.status]
  const time = entry.durationMs === undefined ? '' : ` ${formatDuration(entry.durationMs)}`
  const outcome = `${word}${time}`
  const call = `> ${entry.tool} ${entry.args.replace(/\s+/g, ' ')}`
  const room = Math.max(1, width - displayWidth(outcome) - 2)
  const shown = displayWidth(call) > room ? `${clip(call, room - 1)}…` : call
  const gap = ' '.repeat(Math.max(2, width - displayWidth(shown) - displayWidth(outcome)))
  return `${theme.tag(theme.dim, ui.escape(shown))}${gap}${theme.tag(color, outcome)}`
}
