import { ui, type Screen } from '../blessed.js'
import { displayKey, type Keymap, type KeymapEntry, type Scope } from '../keys.js'
import { centerRect, type Rect } from '../layout.js'
import { innerSize } from '../panes/box-size.js'
import { fit } from '../panes/text-fit.js'
import type { Theme } from '../theme.js'
import { createFilterKeys, type Overlay, filteredOverlay } from './overlay.js'

const scopes: readonly Scope[] = [
  'global',
  'sessions',
  'chat',
  'log',
  'gauges',
  'timeline',
  'review',
]

/**
 * Every binding, grouped by scope, from the resolved keymap (so `[tui.keys]` changes show).
 * Typing filters by key, action name, label or scope.
 */
export function createHelp(options: {
  screen: Screen
  theme: Theme
  keymap: Keymap
  invalidate(): void
}): Overlay {
  const { theme, keymap } = options
  const box = ui.box({
    parent: options.screen,
    hidden: true,
    border: 'line',
    tags: true,
    wrap: false,
    label: ' help: every key ',
    style: theme.color ? { border: { fg: theme.borderFocus } } : {},
  })
  let body: Rect = { left: 0, top: 0, width: 80, height: 23 }
  let scroll = 0
  const filter = createFilterKeys({
    close: () => {
      overlay.close()
    },
    closeKeys: () => keymap.keysOf('help'),
    changed: () => {
      scroll = 0
      draw()
    },
    scroll: (by) => {
      scroll = Math.max(0, scroll + by)
      draw()
    },
    page: () => Math.max(1, innerSize(box).height - 3),
  })

  const rows = (query: string): string[] => {
    const q = query.toLowerCase()
    const out: string[] = []
    for (const scope of scopes) {
      const entries = keymap.entries().filter((e) => e.scope === scope && matches(e, q))
      if (entries.length === 0) continue
      out.push(theme.tag(theme.accent, `{bold}${scope}{/bold}`))
      for (const e of entries) out.push(formatEntry(e, theme))
    }
    return out
  }

  function draw(): void {
    const all = rows(filter.query)
    const height = Math.max(1, innerSize(box).height - 2)
    scroll = Math.min(scroll, Math.max(0, all.length - height))
    const head = `filter: ${ui.escape(filter.query)}▏  ${theme.tag(theme.dim, 'type to filter · ↑↓ scroll · Esc closes')}`
    const shown =
      all.length === 0
        ? [theme.tag(theme.dim, 'no key matches')]
        : all.slice(scroll, scroll + height)
    box.setContent([head, '', ...shown].join('\n'))
    options.invalidate()
  }

  const overlay = filteredOverlay({
    box,
    filter,
    invalidate: () => {
      options.invalidate()
    },
    reset: () => {
      scroll = 0
    },
    draw,
    layout: (rect) => {
      body = rect
      const width = Math.min(100, Math.max(40, Math.round(body.width * 0.8)))
      ui.place(box, centerRect(body, width, body.height - 2))
      if (!box.hidden) draw()
    },
    dispose: () => {
      box.destroy()
    },
  })
  return overlay
}

function matches(e: KeymapEntry, query: string): boolean {
  if (query === '') return true
  const text = `${e.scope} ${e.action} ${e.label} ${e.keys.join(' ')} ${e.keys.map(displayKey).join(' ')}`
  return text.toLowerCase().includes(query)
}

function formatEntry(e: KeymapEntry, theme: Theme): string {
  const keys = fit(describeKeys(e.keys), 18)
  return `  ${ui.escape(keys)} ${ui.escape(e.label)}  ${theme.tag(theme.dim, `(${e.action})`)}`
}

/** "q, Ctrl-Q"; a run of digits reads "1–9". */
function describeKeys(keys: readonly string[]): string {
  const digits = keys.every(
    (k, i) => /^[0-9]$/.test(k) && (i === 0 || Number(k) === Number(keys[i - 1]) + 1),
  )
  if (digits && keys.length > 2) return `${keys[0] ?? ''}–${keys.at(-1) ?? ''}`
  return keys.map(displayKey).join(', ')
}
