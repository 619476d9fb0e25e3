import { basename } from 'node:path'
import { ui, type Textbox } from '../blessed.js'
import type { Action } from '../keymap.js'
import type { SessionView, ViewState } from '../state/types.js'
import { innerSize } from './box-size.js'
import { createChatFormatter } from './chat-format.js'
import { createPromptInput } from './chat-input.js'
import type { Pane, PaneContext } from './types.js'

/** The chat pane, plus what the app needs beyond a Pane: leaving the input when focus moves. */
export interface ChatPane extends Pane {
  readonly typing: boolean
  leaveInput(): void
}

/**
 * The focused session's conversation: user lines, the assistant's streamed text wrapped to the
 * width, one compact row per tool call, notices. Follows the newest row unless scrolled up;
 * the input line at the bottom sends prompts through the client.
 */
export function createChatPane(
  ctx: PaneContext,
  options: {
    passKeys: readonly string[]
    /** How the status bar writes the action's first key. */
    keyName: (action: Action) => string
  },
): ChatPane {
  const { theme } = ctx
  const box = ui.box({
    parent: ctx.screen,
    label: ' chat ',
    border: 'line',
    tags: true,
  })
  const transcript = ui.box({
    parent: box,
    top: 0,
    left: 0,
    right: 0,
    bottom: 1,
    tags: true,
    wrap: false,
  })
  const sign = ui.box({ parent: box, bottom: 0, left: 0, width: 2, height: 1, tags: true })
  const textbox: Textbox = ui.textbox({ parent: box, bottom: 0, left: 2, right: 0, height: 1 })
  const format = createChatFormatter(theme)
  const input = createPromptInput({
    ctx,
    textbox,
    passKeys: options.passKeys,
    changed: () => {
      redraw()
    },
  })
  /** Row index of the top of a paused view; undefined while following. */
  let pinned: number | undefined
  let rows: string[] = []
  let sessionId: string | undefined
  let drawn = ''

  const focused = (state: ViewState): SessionView | undefined =>
    state.focused === undefined ? undefined : state.sessions[state.focused]

  function render(state: ViewState): void {
    const session = focused(state)
    if (session?.id !== sessionId) {
      sessionId = session?.id
      pinned = undefined
    }
    const { width } = innerSize(box)
    const height = Math.max(1, innerSize(box).height - 1)
    rows = session === undefined ? [] : session.chat.flatMap((entry) => format(entry, width))
    if (rows[0] === '') rows = rows.slice(1)
    if (pinned !== undefined && pinned >= rows.length - height) pinned = undefined
    const top = pinned ?? Math.max(0, rows.length - height)
    const visible = rows.slice(top, top + height)
    const empty =
      session === undefined
        ? 'no session: press n to start one'
        : `${options.keyName('chat.input')} to type a message to the agent`
    const content = rows.length === 0 ? theme.tag(theme.dim, empty) : visible.join('\n')
    const label = title(session, top, rows.length - height)
    sign.setContent(input.typing ? theme.tag(theme.accent, '›') : theme.tag(theme.dim, '›'))
    if (content + label === drawn) return
    drawn = content + label
    transcript.setContent(content)
    box.setLabel(label)
  }

  function title(session: SessionView | undefined, top: number, bottom: number): string {
    if (session === undefined) return ' chat '
    const parts = ['chat', ui.escape(basename(session.projectPath) || session.projectPath)]
    if (session.turn !== undefined) parts.push('working…')
    if (pinned !== undefined) parts.push(`scrolled ${bottom - top} up (G: bottom)`)
    return ` ${parts.join(' · ')} `
  }

  function redraw(): void {
    render(ctx.state())
    ctx.invalidate()
  }

  function scroll(by: number): boolean {
    const height = Math.max(1, innerSize(box).height - 1)
    const bottom = Math.max(0, rows.length - height)
    const from = pinned ?? bottom
    const next = Math.max(0, Math.min(bottom, from + by))
    pinned = next >= bottom ? undefined : next
    redraw()
    return true
  }

  function handle(action: Action): boolean {
    const page = Math.max(1, innerSize(box).height - 2)
    switch (action) {
      case 'chat.input':
        input.start()
        return true
      case 'up':
        return scroll(-1)
      case 'down':
        return scroll(1)
      case 'page-up':
        return scroll(-page)
      case 'page-down':
        return scroll(page)
      case 'top':
        return scroll(-Infinity)
      case 'bottom':
        return scroll(Infinity)
      default:
        return false
    }
  }

  return {
    id: 'chat',
    box,
    render,
    handle,
    get hints() {
      return input.typing
        ? ([
            ['open', 'send'],
            ['abort', 'leave · cancel turn'],
            ['up', 'history'],
          ] as const)
        : ([
            ['chat.input', 'type'],
            ['abort', 'cancel'],
            ['page-up', 'scroll'],
          ] as const)
    },
    get typing() {
      return input.typing
    },
    leaveInput: () => {
      input.leave()
    },
    dispose() {
      input.dispose()
      box.destroy()
    },
  }
}
