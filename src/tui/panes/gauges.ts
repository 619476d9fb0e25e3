import { ui } from '../blessed.js'
import type { ViewState } from '../state/types.js'
import { focusedSession } from '../state/select.js'
import { innerSize } from './box-size.js'
import { gaugeRows } from './gauges-format.js'
import type { Pane, PaneContext } from './types.js'

/** Fastest redraw of the gauges (~4 Hz): stats arrive about once a second anyway. */
export const GAUGE_INTERVAL_MS = 250
/** Without new stats, the uptime is all that changes. */
const IDLE_INTERVAL_MS = 1000

export interface GaugesOptions {
  /** The clock (tests pass their own). */
  now?: () => number
}

/**
 * CPU, memory against the limit, pids, block and network I/O and uptime of the focused
 * session's sandbox, with history sparklines. A log flood renders every frame; the gauges skip
 * those and redraw at most every 250 ms, when the stats changed (or the box, or the session).
 */
export function createGaugesPane(ctx: PaneContext, options: GaugesOptions = {}): Pane {
  const now = options.now ?? Date.now
  const box = ui.box({
    parent: ctx.screen,
    label: ' resources ',
    border: 'line',
    tags: true,
    wrap: false,
    style: { border: { fg: ctx.theme.border } },
  })
  let shape = ''
  let statsAt: number | undefined
  let drawnAt = Number.NEGATIVE_INFINITY
  let timer: NodeJS.Timeout | undefined

  // A change held back by the throttle is drawn when the interval ends, even if nothing else
  // asks for a frame by then.
  function later(ms: number): void {
    if (timer !== undefined) return
    timer = setTimeout(() => {
      timer = undefined
      ctx.invalidate()
    }, ms)
    timer.unref()
  }

  function render(state: ViewState): void {
    const session = focusedSession(state)
    const { width, height } = innerSize(box)
    const t = now()
    const key = `${session?.id ?? ''}|${width}x${height}|${session?.status ?? ''}`
    const latestAt = session?.stats.latest?.at
    const since = t - drawnAt
    if (key === shape) {
      if (latestAt === statsAt && since < IDLE_INTERVAL_MS) return
      if (since < GAUGE_INTERVAL_MS) {
        later(GAUGE_INTERVAL_MS - since)
        return
      }
    }
    shape = key
    statsAt = latestAt
    drawnAt = t
    if (session === undefined) {
      box.setContent(ctx.theme.tag(ctx.theme.dim, 'no session'))
      return
    }
    const stopped = session.status === 'stopped' || session.status === 'failed'
    const rows = gaugeRows(session.stats, { theme: ctx.theme, width, height, now: t, stopped })
    box.setContent(rows.join('\n'))
  }

  return {
    id: 'gauges',
    box,
    render,
    handle: () => false,
    hints: [],
    dispose() {
      if (timer !== undefined) clearTimeout(timer)
      box.destroy()
    },
  }
}
