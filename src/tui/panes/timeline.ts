import { ui } from '../blessed.js'
import type { Action } from '../keymap.js'
import type { TimelineEntry, ViewState } from '../state/types.js'
import { focusedSession } from '../state/select.js'
import { innerSize } from './box-size.js'
import { createPainter } from './paint.js'
import { timelineRow } from './timeline-format.js'
import type { Pane, PaneContext } from './types.js'

export interface TimelineOptions {
  /** The clock for relative times (tests pass their own). */
  now?: () => number
}

/**
 * The focused session's commits, newest first, one row each. The selection sticks to the newest
 * commit until the user moves it, then to the commit chosen; Enter opens that commit's review.
 */
export function createTimelinePane(ctx: PaneContext, options: TimelineOptions = {}): Pane {
  const now = options.now ?? Date.now
  const { theme } = ctx
  const box = ui.box({
    parent: ctx.screen,
    label: ' timeline ',
    border: 'line',
    tags: true,
    wrap: false,
    style: { border: { fg: theme.border } },
  })
  let sessionId: string | undefined
  /** Undefined: the newest commit, whatever it is. */
  let selected: string | undefined
  let top = 0
  const paint = createPainter(box)

  function indexOf(entries: TimelineEntry[]): number {
    if (selected === undefined) return 0
    const index = entries.findIndex((e) => e.commit === selected)
    if (index < 0) selected = undefined
    return Math.max(0, index)
  }

  function render(state: ViewState): void {
    const session = focusedSession(state)
    if (session?.id !== sessionId) {
      sessionId = session?.id
      selected = undefined
      top = 0
    }
    const entries = session?.timeline ?? []
    const { width, height } = innerSize(box)
    const index = indexOf(entries)
    top = Math.min(Math.max(top, index - height + 1), index)
    const t = now()
    const rows = entries
      .slice(top, top + height)
      .map((entry, i) => timelineRow(entry, { theme, width, now: t, selected: top + i === index }))
    const content =
      session === undefined
        ? theme.tag(theme.dim, 'no session')
        : rows.length === 0
          ? theme.tag(theme.dim, 'no commits yet')
          : rows.join('\n')
    const n = entries.length
    const label = n === 0 ? ' timeline ' : ` timeline · ${n} commit${n === 1 ? '' : 's'} `
    paint(content, label)
  }

  function move(entries: TimelineEntry[], to: number): void {
    const index = Math.min(Math.max(to, 0), entries.length - 1)
    selected = index <= 0 ? undefined : entries[index]?.commit
  }

  function handle(action: Action): boolean {
    const session = focusedSession(ctx.state())
    if (session === undefined) return false
    const entries = session.timeline
    const index = indexOf(entries)
    const page = Math.max(1, innerSize(box).height - 1)
    switch (action) {
      case 'up':
        move(entries, index - 1)
        break
      case 'down':
        move(entries, index + 1)
        break
      case 'page-up':
        move(entries, index - page)
        break
      case 'page-down':
        move(entries, index + page)
        break
      case 'top':
        move(entries, 0)
        break
      case 'bottom':
        move(entries, entries.length - 1)
        break
      case 'open':
      case 'timeline.open': {
        const entry = entries[index]
        if (entry === undefined) ctx.notify('info', 'no commits to review yet')
        else ctx.openReview(session.id, entry.commit)
        return true
      }
      default:
        return false
    }
    render(ctx.state())
    ctx.invalidate()
    return true
  }

  return {
    id: 'timeline',
    box,
    render,
    handle,
    hints: [
      ['timeline.open', 'open diff'],
      ['review', 'review all'],
    ],
    dispose() {
      box.destroy()
    },
  }
}
