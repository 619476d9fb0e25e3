import { ui } from './blessed.js'
import type { PaneSet } from './panes.js'
import type { Pane, PaneId } from './panes/types.js'
import type { Theme } from './theme.js'

/** Which pane has the keys; the focused one shows `[title]` and, with colour, a bright border. */
export interface Focus {
  current(): Pane
  set(id: PaneId): void
  /** Tab / Shift-Tab over the tiled panes. */
  cycle(by: 1 | -1): void
}

export function createFocus(options: { panes: PaneSet; theme: Theme; request(): void }): Focus {
  const { panes, theme } = options
  let focused: Pane = panes.chat
  const refresh = new Map<Pane, () => void>()
  for (const pane of panes.tiled) {
    refresh.set(
      pane,
      ui.markLabel(pane.box, (label) => (pane === focused ? markFocused(label) : label)),
    )
  }

  // The app owns the panes' borders: a bright one marks the focus when there is colour; under
  // NO_COLOR every border is plain and the `[title]` alone says it.
  function show(): void {
    for (const pane of panes.tiled) {
      const color = pane === focused ? theme.borderFocus : theme.border
      ui.setBorderColor(pane.box, theme.color ? color : undefined)
      refresh.get(pane)?.()
    }
    options.request()
  }

  function set(next: Pane): void {
    if (next === focused) return
    if (focused === panes.chat) panes.chat.leaveInput()
    focused = next
    show()
  }

  show()
  return {
    current: () => (panes.reviewOpen ? panes.review : focused),
    set(id) {
      const pane = panes.tiled.find((p) => p.id === id)
      if (pane !== undefined) set(pane)
    },
    cycle(by) {
      const index = panes.tiled.indexOf(focused)
      const count = panes.tiled.length
      const next = panes.tiled[(index + by + count) % count]
      if (next !== undefined) set(next)
    },
  }
}

/** " log · following " → " [log · following] ". */
export function markFocused(label: string): string {
  const text = label.trim()
  return text === '' ? label : ` [${text}] `
}
