import { toErrorInfo } from '../../shared/errors.js'
import { ui, type KeyEvent, type Textbox } from '../blessed.js'
import type { PaneContext } from './types.js'

/** Prompts kept for up/down recall. */
const HISTORY_LIMIT = 100

export interface PromptInput {
  readonly typing: boolean
  /** Starts reading keys into the input (the chat's `i` / Enter). */
  start(): void
  /** Stops reading, keeping the draft (focus moved elsewhere). */
  leave(): void
  dispose(): void
}

/**
 * The chat's input line. Enter sends the text to the focused session and keeps typing; up/down
 * recall earlier prompts; Escape cancels the running turn when there is one, else leaves.
 * While it reads, blessed delivers only `passKeys` (Tab, Ctrl-C…) to the app.
 */
export function createPromptInput(options: {
  ctx: PaneContext
  textbox: Textbox
  passKeys: readonly string[]
  changed(): void
}): PromptInput {
  const { ctx, textbox } = options
  const history: string[] = []
  /** Position in `history` while recalling; `history.length` = the draft. */
  let recall = 0
  let draft = ''
  let typing = false
  let lastKey = ''
  const screen = ctx.screen
  const basePass = ui.passKeys(screen)

  const onKey = (_ch: unknown, key: KeyEvent): void => {
    lastKey = key.full
    if (!typing || (key.full !== 'up' && key.full !== 'down')) return
    if (recall === history.length) draft = textbox.getValue()
    recall = Math.max(0, Math.min(history.length, recall + (key.full === 'up' ? -1 : 1)))
    ui.setText(textbox, recall === history.length ? draft : (history[recall] ?? ''))
    ctx.invalidate()
  }
  textbox.on('keypress', onKey)

  function read(): void {
    typing = true
    lastKey = ''
    ui.setPassKeys(screen, [...basePass, ...options.passKeys])
    ui.readLine(textbox, done)
    options.changed()
  }

  function done(value: string | undefined): void {
    typing = false
    ui.setPassKeys(screen, basePass)
    const id = ctx.state().focused
    if (value === undefined) {
      const running = id === undefined ? undefined : ctx.state().sessions[id]?.turn
      if (lastKey === 'escape' && running !== undefined && id !== undefined) {
        ctx.client.abort(id)
        ctx.notify('info', 'cancelling the turn…')
        read()
        return
      }
      options.changed()
      return
    }
    const text = value.trim()
    if (text === '') {
      read()
      return
    }
    if (id === undefined) {
      ctx.notify('warn', 'no session to send to: press n to start one')
      read()
      return
    }
    if (history.at(-1) !== text) history.push(text)
    if (history.length > HISTORY_LIMIT) history.shift()
    recall = history.length
    draft = ''
    ui.setText(textbox, '')
    ctx.client.prompt(id, text).catch((error: unknown) => {
      ctx.notify('error', toErrorInfo(error).message)
    })
    read()
  }

  return {
    get typing() {
      return typing
    },
    start() {
      if (!typing) read()
    },
    leave() {
      // Ends the read without the abort Escape would bring (lastKey is not escape).
      if (typing) ui.stopReading(textbox)
    },
    dispose() {
      textbox.removeListener('keypress', onKey)
      if (typing) ui.stopReading(textbox)
    },
  }
}
