import type { Box } from '../blessed.js'
import type { Rect } from '../layout.js'

/** A box over the panes that takes every key while open (help, palette). */
export interface Overlay {
  readonly isOpen: boolean
  open(): void
  close(): void
  /** A key name as the app resolves it ("a", "?", "space", "backspace", "up", "enter"…). */
  handleKey(key: string): void
  layout(body: Rect): void
  dispose(): void
}

export interface FilterKeys {
  readonly query: string
  reset(): void
  handle(key: string): void
}

/**
 * The keys of a type-to-filter overlay: printable keys extend the query, Backspace shortens it,
 * arrows and page keys scroll, Escape closes (and so do `closeKeys` while the query is empty).
 */
export function createFilterKeys(options: {
  close(): void
  closeKeys(): readonly string[]
  changed(): void
  scroll(by: number): void
  page(): number
  enter?(): void
}): FilterKeys {
  let query = ''
  const set = (next: string): void => {
    query = next
    options.changed()
  }
  return {
    get query() {
      return query
    },
    reset() {
      query = ''
    },
    handle(key) {
      if (key === 'escape' || (query === '' && options.closeKeys().includes(key))) {
        options.close()
      } else if (key === 'enter') options.enter?.()
      else if (key === 'backspace') set(Array.from(query).slice(0, -1).join(''))
      else if (key === 'C-u') set('')
      else if (key === 'up') options.scroll(-1)
      else if (key === 'down') options.scroll(1)
      else if (key === 'pageup') options.scroll(-options.page())
      else if (key === 'pagedown') options.scroll(options.page())
      else if (key === 'space') set(`${query} `)
      else if (Array.from(key).length === 1) set(query + key)
    },
  }
}

/**
 * The open/close/keys part every filtered overlay shares: `reset` clears its own state when it
 * opens, `draw` fills the box, `layout` places it.
 */
export function filteredOverlay(parts: {
  box: Box
  filter: FilterKeys
  invalidate(): void
  reset(): void
  draw(): void
  layout(body: Rect): void
  dispose(): void
}): Overlay {
  const { box, filter } = parts
  return {
    get isOpen() {
      return !box.hidden
    },
    open() {
      filter.reset()
      parts.reset()
      box.show()
      box.setFront()
      box.focus()
      parts.draw()
    },
    close() {
      box.hide()
      parts.invalidate()
    },
    handleKey: (key) => {
      filter.handle(key)
    },
    layout: (body) => {
      parts.layout(body)
    },
    dispose: () => {
      parts.dispose()
    },
  }
}
