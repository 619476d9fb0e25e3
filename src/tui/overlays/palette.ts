import { ui, type Screen } from '../blessed.js'
import { displayKey, type Keymap, type KeymapEntry } from '../keys.js'
import type { Action } from '../keymap.js'
import { innerSize } from '../panes/box-size.js'
import { fit } from '../panes/text-fit.js'
import type { Theme } from '../theme.js'
import { createFilterKeys, type Overlay, filteredOverlay } from './overlay.js'

/**
 * The command palette: a fuzzy filter over the actions that make sense now; Enter runs the
 * selected one, as if its key had been pressed in its pane.
 */
export function createPalette(options: {
  screen: Screen
  theme: Theme
  keymap: Keymap
  /** Whether an action can run now (e.g. review actions only while the review is open). */
  available(entry: KeymapEntry): boolean
  run(action: Action): void
  invalidate(): void
}): Overlay {
  const { theme, keymap } = options
  const box = ui.box({
    parent: options.screen,
    hidden: true,
    border: 'line',
    tags: true,
    wrap: false,
    label: ' command palette ',
    style: theme.color ? { border: { fg: theme.borderFocus } } : {},
  })
  let selected = 0
  let matches: KeymapEntry[] = []
  const filter = createFilterKeys({
    close: () => {
      overlay.close()
    },
    closeKeys: () => keymap.keysOf('palette'),
    changed: () => {
      selected = 0
      draw()
    },
    scroll: (by) => {
      selected = Math.max(0, Math.min(matches.length - 1, selected + by))
      draw()
    },
    page: () => Math.max(1, innerSize(box).height - 2),
    enter: () => {
      const entry = matches[selected]
      overlay.close()
      if (entry !== undefined) options.run(entry.action)
    },
  })

  function draw(): void {
    const candidates = keymap.entries().filter((e) => options.available(e))
    matches = rankActions(filter.query, candidates)
    const { width, height } = innerSize(box)
    const rows = Math.max(1, height - 2)
    const first = Math.max(0, Math.min(selected - rows + 1, matches.length - rows))
    const lines = matches.slice(first, first + rows).map((e, i) => {
      const keys = e.keys.map(displayKey).join(', ')
      const text = fit(`${first + i === selected ? '>' : ' '} ${e.label}`, Math.max(10, width - 16))
      const row = `${ui.escape(text)} ${theme.tag(theme.dim, ui.escape(keys))}`
      return first + i === selected ? `{inverse}${row}{/inverse}` : row
    })
    const head = `: ${ui.escape(filter.query)}▏`
    box.setContent([head, '', ...(lines.length > 0 ? lines : ['no action matches'])].join('\n'))
    options.invalidate()
  }

  const overlay = filteredOverlay({
    box,
    filter,
    invalidate: () => {
      options.invalidate()
    },
    reset: () => {
      selected = 0
    },
    draw,
    layout: (body) => {
      const width = Math.min(70, body.width)
      const height = Math.min(16, body.height)
      ui.place(box, {
        left: body.left + Math.floor((body.width - width) / 2),
        top: body.top + Math.min(2, body.height - height),
        width,
        height,
      })
      if (!box.hidden) draw()
    },
    dispose: () => {
      box.destroy()
    },
  })
  return overlay
}

/** Entries matching `query` as a fuzzy subsequence of "label action", best first. */
export function rankActions(query: string, entries: readonly KeymapEntry[]): KeymapEntry[] {
  const scored = entries.flatMap((e, index) => {
    const score = fuzzyScore(query, `${e.label} ${e.action}`)
    return score === undefined ? [] : [{ e, score, index }]
  })
  return scored.sort((a, b) => b.score - a.score || a.index - b.index).map((s) => s.e)
}

/**
 * How well `query` matches `text` as a subsequence (undefined: not at all). Consecutive
 * characters and characters at word starts score more, so "nse" ranks "next session" high.
 */
export function fuzzyScore(query: string, text: string): number | undefined {
  const q = query.toLowerCase().replace(/\s+/g, '')
  const t = text.toLowerCase()
  let score = 0
  let at = 0
  let previous = -2
  for (const ch of q) {
    const found = t.indexOf(ch, at)
    if (found < 0) return undefined
    score += 1
    if (found === previous + 1) score += 3
    if (found === 0 || /[\s.:/-]/.test(t[found - 1] ?? '')) score += 2
    previous = found
    at = found + 1
  }
  return score
}
