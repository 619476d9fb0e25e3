/** A rectangle in terminal cells; `left`/`top` are 0-based. */
export interface Rect {
  left: number
  top: number
  width: number
  height: number
}

export type Region = 'sessions' | 'gauges' | 'chat' | 'log' | 'timeline' | 'status'

/**
 * `wide`: three columns (sessions+gauges | chat | log+timeline).
 * `medium` and `compact`: two columns, log and timeline side by side under the chat.
 */
export type LayoutMode = 'wide' | 'medium' | 'compact'

export interface Layout {
  mode: LayoutMode
  regions: Record<Region, Rect>
  /** The area above the status bar, for full-screen overlays (review). */
  body: Rect
}

/** Panes need a border above and below and one row of content. */
const minPaneHeight = 3

/**
 * Where every pane goes for a terminal of `cols` × `rows`: a pure function, so resizes and the
 * 80×24 minimum are unit-tested without a terminal. Regions never overlap and never leave the
 * screen; the status bar takes the last row.
 */
export function computeLayout(cols: number, rows: number): Layout {
  const width = Math.max(1, Math.floor(cols))
  const height = Math.max(2, Math.floor(rows))
  const bodyHeight = height - 1
  const body: Rect = { left: 0, top: 0, width, height: bodyHeight }
  const status: Rect = { left: 0, top: bodyHeight, width, height: 1 }
  const mode: LayoutMode = width >= 150 ? 'wide' : width >= 100 ? 'medium' : 'compact'

  const leftWidth = Math.min(
    width,
    mode === 'wide'
      ? clamp(Math.round(width * 0.2), 28, 40)
      : mode === 'medium'
        ? clamp(Math.round(width * 0.24), 26, 34)
        : clamp(Math.round(width * 0.27), 12, 22),
  )
  const [sessions, gauges] = splitRows(
    { left: 0, top: 0, width: leftWidth, height: bodyHeight },
    // Compact: gauges keep their numbers and drop the history graphs.
    mode === 'compact' ? Math.max(minPaneHeight, bodyHeight - 8) : Math.round(bodyHeight * 0.5),
  )
  const rest: Rect = { left: leftWidth, top: 0, width: width - leftWidth, height: bodyHeight }

  if (mode === 'wide') {
    const rightWidth = clamp(Math.round(width * 0.34), 40, 80)
    const [chat, right] = splitColumns(rest, rest.width - rightWidth)
    const [log, timeline] = splitRows(right, Math.round(bodyHeight * 0.6))
    return { mode, body, regions: { sessions, gauges, chat, log, timeline, status } }
  }
  const [chat, bottom] = splitRows(
    rest,
    mode === 'medium' ? Math.round(bodyHeight * 0.55) : Math.ceil(bodyHeight / 2),
  )
  const [log, timeline] = splitColumns(bottom, Math.round(bottom.width * 0.6))
  return { mode, body, regions: { sessions, gauges, chat, log, timeline, status } }
}

/** A box of `width` × `height` centred in the body, shrunk to fit. */
export function centerRect(body: Rect, width: number, height: number): Rect {
  const w = Math.min(width, body.width)
  const h = Math.min(height, body.height)
  return {
    left: body.left + Math.floor((body.width - w) / 2),
    top: body.top + Math.floor((body.height - h) / 2),
    width: w,
    height: h,
  }
}

function splitRows(r: Rect, topHeight: number): [Rect, Rect] {
  const h = clamp(topHeight, Math.min(minPaneHeight, r.height), r.height - minPaneHeight)
  const top = Math.max(0, Math.min(h, r.height))
  return [
    { left: r.left, top: r.top, width: r.width, height: top },
    { left: r.left, top: r.top + top, width: r.width, height: r.height - top },
  ]
}

function splitColumns(r: Rect, leftWidth: number): [Rect, Rect] {
  const w = Math.max(0, Math.min(leftWidth, r.width))
  return [
    { left: r.left, top: r.top, width: w, height: r.height },
    { left: r.left + w, top: r.top, width: r.width - w, height: r.height },
  ]
}

function clamp(value: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, value))
}
