import { basename } from 'node:path'
import { ui } from '../blessed.js'
import { sparkline } from '../state/select.js'
import type { SessionView, ViewState } from '../state/types.js'
import type { Theme } from '../theme.js'
import { innerSize } from './box-size.js'
import { fit, fitRight } from './text-fit.js'
import type { Pane, PaneContext } from './types.js'

/** Optional columns are shown while the name keeps at least this many columns. */
const minName = 8
const sparkWidth = 5
const backendWidth = 7
/** Marker, number, and the spaces, status and unsynced columns around the name. */
const fixedWidth = 3 + 1 + 1 + 5 + 1 + 4

/** Which columns fit in `width`: the same for every row, so they line up. */
function columnsFor(width: number): { name: number; sparks: boolean; backend: boolean } {
  let room = width - fixedWidth - minName
  const sparks = room >= 2 * (sparkWidth + 1)
  if (sparks) room -= 2 * (sparkWidth + 1)
  const backend = room >= backendWidth + 1
  if (backend) room -= backendWidth + 1
  return { name: Math.max(1, minName + room), sparks, backend }
}

/**
 * One row per session: number, project, state, unsynced count, and CPU/memory sparklines
 * when there is room. `*` marks the session the other panes show, `>` the cursor; `@` marks a
 * session another Safe Coder process runs. Up/down move the cursor, Enter shows that session.
 */
export function createSessionsPane(
  ctx: PaneContext,
  options: { focusSession(id: string): void },
): Pane {
  const { theme } = ctx
  const box = ui.box({
    parent: ctx.screen,
    label: ' sessions ',
    border: 'line',
    tags: true,
    wrap: false,
  })
  let cursor = 0
  let focused: string | undefined
  let drawn = ''

  function render(state: ViewState): void {
    if (state.focused !== focused) {
      focused = state.focused
      cursor = Math.max(0, focused === undefined ? cursor : state.order.indexOf(focused))
    }
    cursor = Math.min(cursor, Math.max(0, state.order.length - 1))
    const { width, height } = innerSize(box)
    const first = Math.max(0, cursor - height + 1)
    const rows = state.order.slice(first, first + height).flatMap((id, i) => {
      const s = state.sessions[id]
      return s === undefined ? [] : [formatRow(s, first + i, width, state, first + i === cursor)]
    })
    const remote = state.order.some((id) => state.sessions[id]?.origin === 'remote')
    const content =
      rows.length > 0 ? rows.join('\n') : theme.tag(theme.dim, 'no sessions: n starts one')
    const label = ` sessions${remote ? ' (@ remote)' : ''} `
    if (content + label === drawn) return
    drawn = content + label
    box.setContent(content)
    box.setLabel(label)
  }

  function formatRow(
    s: SessionView,
    index: number,
    width: number,
    state: ViewState,
    atCursor: boolean,
  ): string {
    const mark = `${atCursor ? '>' : ' '}${s.id === state.focused ? '*' : ' '}`
    const number = index < 9 ? String(index + 1) : ' '
    const columns = columnsFor(width)
    const name = `${s.origin === 'remote' ? '@' : ''}${basename(s.projectPath) || s.projectPath}`
    const cells = [
      `${mark}${number} ${ui.escape(fit(name, columns.name))}`,
      theme.tag(statusColor(theme, s), fit(statusWord(s), 5)),
      theme.tag(theme.warn, fitRight(s.unsynced > 0 ? `+${s.unsynced}` : '', 4)),
    ]
    if (columns.sparks) {
      const limit = s.stats.latest?.memoryLimitBytes
      cells.push(theme.tag(theme.accent, sparkline(s.stats.cpuPercent, sparkWidth, 100)))
      cells.push(theme.tag(theme.ok, sparkline(s.stats.memoryBytes, sparkWidth, limit)))
    }
    if (columns.backend) cells.push(ui.escape(fit(s.backend, backendWidth)))
    const row = cells.join(' ')
    return atCursor && theme.color ? `{${theme.selectedBg}-bg}${row}{/${theme.selectedBg}-bg}` : row
  }

  const move = (by: number): boolean => {
    const count = ctx.state().order.length
    cursor = Math.max(0, Math.min(count - 1, cursor + by))
    render(ctx.state())
    ctx.invalidate()
    return true
  }

  return {
    id: 'sessions',
    box,
    render,
    handle(action) {
      switch (action) {
        case 'up':
          return move(-1)
        case 'down':
          return move(1)
        case 'top':
          return move(-Infinity)
        case 'bottom':
          return move(Infinity)
        case 'open': {
          const id = ctx.state().order[cursor]
          if (id !== undefined) options.focusSession(id)
          return true
        }
        default:
          return false
      }
    },
    hints: [
      ['down', 'move'],
      ['open', 'show'],
      ['session-new', 'new'],
      ['session-close', 'close'],
    ],
    dispose() {
      box.destroy()
    },
  }
}

function statusWord(s: SessionView): string {
  return s.status === 'starting' ? 'start' : s.status === 'unknown' ? '?' : s.status
}

function statusColor(theme: Theme, s: SessionView): string {
  switch (s.status) {
    case 'busy':
      return theme.accent
    case 'failed':
      return theme.error
    case 'idle':
      return theme.ok
    case 'starting':
      return theme.warn
    case 'stopped':
    case 'unknown':
      return theme.dim
  }
}
