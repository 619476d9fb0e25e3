import { basename } from 'node:path'
import { ui, type Screen } from './blessed.js'
import { displayKey, type Keymap } from './keys.js'
import type { Rect } from './layout.js'
import type { Pane } from './panes/types.js'
import type { ViewState } from './state/types.js'
import { clip, displayWidth } from './panes/text-fit.js'
import type { Theme } from './theme.js'

export interface Notice {
  level: 'info' | 'warn' | 'error'
  text: string
}

/** Notices other than errors fade after this long. */
const NOTICE_MS = 6000

/** The last row: the focused session, the focused pane's keys, and the latest notice. */
export interface StatusBar {
  /** Shows a notice until the next one (errors) or for a few seconds (the rest). */
  notify(level: Notice['level'], text: string): void
  render(state: ViewState, pane: Pane | undefined): void
  layout(rect: Rect): void
  dispose(): void
}

export function createStatusBar(options: {
  screen: Screen
  theme: Theme
  keymap: Keymap
  request: () => void
}): StatusBar {
  const { theme, keymap } = options
  const box = ui.box({ parent: options.screen, height: 1, tags: true, wrap: false })
  let width = 80
  let drawn = ''
  let notice: Notice | undefined
  let timer: NodeJS.Timeout | undefined

  const key = (action: Parameters<Keymap['keysOf']>[0]): string => {
    const first = keymap.keysOf(action)[0]
    return first === undefined ? '' : displayKey(first)
  }

  return {
    notify(level, text) {
      notice = { level, text }
      clearTimeout(timer)
      timer = undefined
      if (level !== 'error') {
        timer = setTimeout(() => {
          notice = undefined
          options.request()
        }, NOTICE_MS)
        timer.unref()
      }
      options.request()
    },
    render(state, pane) {
      const session = describeSession(state)
      const hints = [
        pane?.id ?? '',
        ...(pane?.hints ?? []).map(([action, label]) => `${key(action)} ${label}`),
        `${key('help')} help`,
      ]
      const hintText = hints.filter((h) => h.trim() !== '').join(' · ')
      const noticeText = notice === undefined ? '' : noticeLabel(notice)
      const left = clip(` ${session}`, width)
      const room = width - displayWidth(left) - 3
      const shownNotice = clip(noticeText, Math.max(0, room))
      const shownHints = clip(hintText, Math.max(0, room - displayWidth(shownNotice) - 3))
      const parts = [
        theme.tag(theme.accent, ui.escape(left)),
        shownHints === '' ? '' : ` │ ${ui.escape(shownHints)}`,
        shownNotice === '' || notice === undefined
          ? ''
          : `{|}${theme.tag(noticeColor(theme, notice), ui.escape(shownNotice))} `,
      ]
      const content = parts.join('')
      if (content !== drawn) box.setContent(content)
      drawn = content
    },
    layout(rect) {
      width = rect.width
      ui.place(box, rect)
    },
    dispose() {
      clearTimeout(timer)
      box.destroy()
    },
  }
}

/** "2/3 myproj · docker · busy · +4 unsynced", or how to start one. */
function describeSession(state: ViewState): string {
  const id = state.focused
  const s = id === undefined ? undefined : state.sessions[id]
  if (id === undefined || s === undefined) return 'no session (n: new)'
  const index = state.order.indexOf(id) + 1
  const parts = [
    `${index}/${state.order.length} ${basename(s.projectPath) || s.projectPath}`,
    s.origin === 'remote' ? `${s.backend} (remote)` : s.backend,
    s.status,
  ]
  if (s.unsynced > 0) parts.push(`+${s.unsynced} unsynced`)
  if (s.warning !== undefined) parts.push(s.warning.toUpperCase())
  if (s.network === 'open') parts.push('NETWORK OPEN')
  else if (s.network === 'allowlist') parts.push('net: allow-list')
  return parts.join(' · ')
}

function noticeLabel(notice: Notice): string {
  return notice.level === 'info' ? notice.text : `${notice.level}: ${notice.text}`
}

function noticeColor(theme: Theme, notice: Notice): string {
  return { info: theme.title, warn: theme.warn, error: theme.error }[notice.level]
}
