import { ui } from '../blessed.js'
import type { Action } from '../keymap.js'
import type { LogRing, ViewState } from '../state/types.js'
import { focusedSession } from '../state/select.js'
import { innerSize } from './box-size.js'
import { formatLogRow } from './log-format.js'
import { createPainter } from './paint.js'
import {
  findLine,
  firstLine,
  lineAt,
  rowsFrom,
  step,
  tailRows,
  type LogFilter,
} from './log-view.js'
import type { Pane, PaneContext } from './types.js'

const filters: readonly LogFilter[] = ['all', 'stdout', 'stderr']

/**
 * The process log of the focused session. The box holds only the rows on screen, rebuilt from
 * the ring at most once per frame (blessed's own log widget lagged by seconds under a flood and
 * kept unbounded scrollback). Follows the newest line until the user scrolls up.
 */
export function createLogPane(ctx: PaneContext): Pane {
  const { theme } = ctx
  const box = ui.box({
    parent: ctx.screen,
    label: ' log ',
    border: 'line',
    tags: true,
    wrap: false,
    style: { border: { fg: theme.border } },
  })
  let sessionId: string | undefined
  let follow = true
  /** Absolute line at the top of a paused view. */
  let top = 0
  /** `ring.pushed` when the view paused, to count what arrived since. */
  let pausedAt = 0
  let filter: LogFilter = 'all'
  let query: string | undefined
  let match: number | undefined
  /** Absolute lines on screen, oldest first. */
  let shown: number[] = []
  let drawn = ''
  const paint = createPainter(box)

  function render(state: ViewState): void {
    const session = focusedSession(state)
    if (session?.id !== sessionId) {
      sessionId = session?.id
      follow = true
      match = undefined
      shown = []
    }
    const { width, height } = innerSize(box)
    if (session === undefined) {
      paint(theme.tag(theme.dim, 'no session'), ' log ')
      return
    }
    const ring = session.log
    const key = [ring.version, ring.pushed, width, height, follow, top, filter, query, match]
    if (drawn === `${session.id}|${key.join('|')}`) return
    drawn = `${session.id}|${key.join('|')}`
    shown = follow ? tailRows(ring, filter, height) : rowsFrom(ring, filter, top, height)
    const rows = shown.map((abs) => {
      const line = lineAt(ring, abs)
      if (line === undefined) return ''
      const exec = line.stream === 'meta' ? session.execs[line.execId] : undefined
      return formatLogRow(line, { theme, width, query, current: abs === match, exec })
    })
    const empty = ring.length === 0 ? theme.tag(theme.dim, 'no output yet') : ''
    paint(rows.length > 0 ? rows.join('\n') : empty, title(ring))
  }

  function title(ring: LogRing): string {
    const parts = ['log']
    if (filter !== 'all') parts.push(`${filter} only`)
    if (follow) parts.push('following')
    else {
      const fresh = ring.pushed - pausedAt
      parts.push(`paused (G to follow)${fresh > 0 ? ` · ${fresh} new` : ''}`)
    }
    if (query !== undefined) parts.push(`/${ui.escape(query)}`)
    return ` ${parts.join(' · ')} `
  }

  const ring = (): LogRing | undefined => focusedSession(ctx.state())?.log
  const rowsTall = (): number => Math.max(1, innerSize(box).height)
  const tailTop = (r: LogRing): number => tailRows(r, filter, rowsTall())[0] ?? firstLine(r)

  function pause(r: LogRing): void {
    if (!follow) return
    follow = false
    top = shown[0] ?? tailTop(r)
    pausedAt = r.pushed
  }

  function scroll(r: LogRing, by: number): void {
    pause(r)
    top = Math.min(step(r, filter, top, by), by > 0 ? tailTop(r) : Number.MAX_SAFE_INTEGER)
  }

  function jump(r: LogRing, from: number, dir: 1 | -1): void {
    if (query === undefined) return
    const found = findLine(r, filter, query, from, dir)
    if (found === undefined) {
      match = undefined
      ctx.notify('warn', `no log line matches "${query}"`)
      return
    }
    if (found.wrapped) {
      ctx.notify(
        'info',
        dir > 0 ? 'search continued from the top' : 'search continued from the end',
      )
    }
    const visible = shown.includes(found.abs)
    pause(r)
    match = found.abs
    if (!visible) {
      top = Math.min(step(r, filter, found.abs, -Math.floor(rowsTall() / 3)), tailTop(r))
    }
  }

  async function search(): Promise<void> {
    const answer = await ctx.ask('search the log for', query)
    const r = ring()
    if (answer === undefined || answer === '' || r === undefined) return
    query = answer
    jump(r, (shown[0] ?? firstLine(r)) - 1, 1)
    redraw()
  }

  function redraw(): void {
    render(ctx.state())
    ctx.invalidate()
  }

  function act(r: LogRing, action: Action): boolean {
    const page = Math.max(1, rowsTall() - 1)
    switch (action) {
      case 'up':
        scroll(r, -1)
        break
      case 'down':
        if (!follow) scroll(r, 1)
        break
      case 'page-up':
        scroll(r, -page)
        break
      case 'page-down':
        if (!follow) scroll(r, page)
        break
      case 'top':
        pause(r)
        top = firstLine(r)
        break
      case 'bottom':
        follow = true
        break
      case 'log.follow':
        if (follow) pause(r)
        else follow = true
        break
      case 'log.filter':
        filter = filters[(filters.indexOf(filter) + 1) % filters.length] ?? 'all'
        break
      case 'log.search':
        void search()
        return true
      case 'log.search-next':
      case 'log.search-prev': {
        if (query === undefined) {
          ctx.notify('info', 'nothing to repeat: press / to search')
          return true
        }
        const next = action === 'log.search-next'
        const from = match ?? (next ? (shown[0] ?? firstLine(r)) - 1 : (shown.at(-1) ?? 0) + 1)
        jump(r, from, next ? 1 : -1)
        break
      }
      default:
        return false
    }
    redraw()
    return true
  }

  return {
    id: 'log',
    box,
    render,
    handle(action) {
      const r = ring()
      if (r === undefined) return false
      return act(r, action)
    },
    hints: [
      ['log.search', 'search'],
      ['log.search-next', 'next match'],
      ['log.filter', 'filter'],
      ['log.follow', 'follow'],
      ['bottom', 'follow again'],
    ],
    dispose() {
      box.destroy()
    },
  }
}
