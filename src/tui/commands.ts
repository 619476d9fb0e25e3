import { basename } from 'node:path'
import type { Envelope } from '../bus/bus.js'
import type { EventMap } from '../bus/events.js'
import type { SessionClient } from '../session/client.js'
import { ui, type KeyEvent, type Screen } from './blessed.js'
import type { Focus } from './focus.js'
import type { Keymap } from './keys.js'
import { defaultActions, type Action } from './keymap.js'
import type { Modal } from './overlays/modal.js'
import type { Overlay } from './overlays/overlay.js'
import type { PaneSet } from './panes.js'
import type { Pane } from './panes/types.js'
import {
  closeSession,
  newSession,
  quit,
  type FlowContext,
  allowDeniedHost,
} from './session-flows.js'
import type { ViewAction } from './state/reduce.js'
import type { ViewState } from './state/types.js'

const WHEEL_ROWS = 3

/** A second Ctrl-C within this long quits at once. */
const FORCE_QUIT_MS = 1000

export interface CommandsOptions {
  client: SessionClient
  keymap: Keymap
  screen: Screen
  env: Record<string, string | undefined>
  mouse: boolean
  state: () => ViewState
  dispatch: (action: ViewAction) => void
  notify: (level: 'info' | 'warn' | 'error', text: string) => void
  modal: Modal
  help: Overlay
  panes: PaneSet
  focus: Focus
  finish: (message?: string) => void
  /** After review actions (revert, sync, close): the unsynced count may have moved. */
  refreshUnsynced: (sessionId: string) => void
}

/** Keys to actions, and the actions that belong to no pane. */
export interface Commands {
  key(ch: string | undefined, key: KeyEvent): void
  /** Runs an action as its key would (the palette); true when something used it. */
  run(action: Action, key?: string): boolean
  /** Whether the palette offers the action now. */
  available(action: Action): boolean
  attachPalette(palette: Overlay): void
  onEvent(event: Envelope<EventMap>): void
  /** After every state change: asks pending approvals of the focused session. */
  afterChange(): void
  start(): void
}

/** While the review is open, only these global actions reach the app. */
const duringReview = new Set<Action>(['quit', 'force-quit', 'help', 'palette', 'mouse'])

export function createCommands(o: CommandsOptions): Commands {
  const { keymap, panes, focus, modal } = o
  let palette: Overlay | undefined
  let mouse = o.mouse
  let lastInterrupt = Number.NEGATIVE_INFINITY
  const asked = new Set<string>()
  const flows: FlowContext = {
    client: o.client,
    modal,
    state: o.state,
    dispatch: o.dispatch,
    notify: o.notify,
    finish: o.finish,
    defaultPath: () => o.env.PWD ?? process.cwd(),
  }

  function key(ch: string | undefined, event: KeyEvent): void {
    const name = keyName(ch, event)
    // blessed reports Enter twice ("enter", then "return").
    if (name === 'return' || name === 'linefeed') return
    if (keymap.keysOf('force-quit').includes(name)) return void run('force-quit')
    if (modal.isOpen) {
      modal.handleKey(name)
      return
    }
    for (const overlay of [palette, o.help]) {
      if (overlay?.isOpen === true) {
        overlay.handleKey(name)
        return
      }
    }
    for (const action of keymap.lookup(name, focus.current().id)) {
      if (run(action, name)) return
    }
  }

  function run(action: Action, key?: string): boolean {
    const scope = defaultActions[action].scope
    if (scope === 'review') {
      const used = panes.reviewOpen && panes.review.handle(action)
      const id = o.state().focused
      if (used && id !== undefined) o.refreshUnsynced(id)
      return used
    }
    if (scope !== 'global' && !panes.reviewOpen) focus.set(scope)
    if (focus.current().handle(action)) return true
    if (panes.reviewOpen && !duringReview.has(action)) return false
    return global(action, key)
  }

  function global(action: Action, key: string | undefined): boolean {
    switch (action) {
      case 'quit':
        void quit(flows)
        return true
      case 'force-quit':
        return interrupt()
      case 'help':
        o.help.open()
        return true
      case 'palette':
        palette?.open()
        return true
      case 'focus-next':
      case 'focus-prev':
        focus.cycle(action === 'focus-next' ? 1 : -1)
        return true
      case 'session-next':
      case 'session-prev':
        return switchBy(action === 'session-next' ? 1 : -1)
      case 'session-pick':
        return pick(key === undefined ? -1 : keymap.keysOf('session-pick').indexOf(key))
      case 'session-new':
        void newSession(flows)
        return true
      case 'session-close':
        void closeSession(flows)
        return true
      case 'abort':
        return abortTurn()
      case 'allow-host':
        void allowDeniedHost(flows)
        return true
      case 'mouse':
        mouse = !mouse
        applyMouse()
        o.notify('info', mouse ? 'mouse on: click a pane, wheel scrolls' : 'mouse off')
        return true
      case 'review': {
        const id = o.state().focused
        if (id === undefined) o.notify('info', 'no session to review')
        else reviewOf(id)
        return true
      }
      default:
        return false
    }
  }

  function reviewOf(id: string): void {
    void panes.review.open(id)
  }

  function interrupt(): boolean {
    const now = Date.now()
    if (now - lastInterrupt <= FORCE_QUIT_MS) {
      o.finish(
        'Quit at once. Nothing is lost: every session stays on disk (`safe-coder sessions`).',
      )
    } else {
      lastInterrupt = now
      o.notify('warn', 'Ctrl-C again within 1 s quits now; all work stays on disk')
    }
    return true
  }

  function switchBy(by: number): boolean {
    const { order, focused } = o.state()
    if (order.length === 0) return true
    const index = focused === undefined ? -1 : order.indexOf(focused)
    return pick((index + by + order.length) % order.length)
  }

  function pick(index: number): boolean {
    const id = o.state().order[index]
    if (id === undefined) o.notify('info', `there is no session ${index + 1}`)
    else o.dispatch({ name: 'ui.focus', payload: { sessionId: id } })
    return true
  }

  function abortTurn(): boolean {
    const id = o.state().focused
    const session = id === undefined ? undefined : o.state().sessions[id]
    if (id === undefined || session?.turn === undefined) return false
    o.client.abort(id)
    o.notify('info', 'cancelling the turn…')
    return true
  }

  function applyMouse(): void {
    ui.setMouse(
      o.screen,
      mouse,
      panes.tiled.map((p) => p.box),
    )
  }

  function askApproval(): void {
    const id = o.state().focused
    const session = id === undefined ? undefined : o.state().sessions[id]
    const request = session?.approvals[0]
    if (id === undefined || session === undefined || request === undefined) return
    if (asked.has(request.requestId)) return
    asked.add(request.requestId)
    const name = basename(session.projectPath) || session.projectPath
    void modal
      .confirm(`${name} wants to run ${request.tool}: ${request.args}\nAllow it?`)
      .then((ok) => {
        o.client.approve(id, request.requestId, ok)
        o.notify('info', `${request.tool} ${ok ? 'allowed' : 'denied'}`)
      })
  }

  return {
    key,
    run,
    available: (action) =>
      action !== 'session-pick' &&
      action !== 'palette' &&
      (defaultActions[action].scope !== 'review' || panes.reviewOpen),
    attachPalette(p) {
      palette = p
    },
    onEvent(event) {
      if (event.name !== 'approval.requested') return
      const { sessionId, tool } = event.payload
      if (sessionId === o.state().focused) return
      const n = o.state().order.indexOf(sessionId) + 1
      o.notify('warn', `session ${n} waits for your approval to run ${tool}: press ${n}`)
    },
    afterChange: askApproval,
    start() {
      for (const pane of panes.tiled) {
        pane.box.on('click', () => {
          focus.set(pane.id)
        })
        pane.box.on('wheelup', () => {
          wheel(pane, 'up')
        })
        pane.box.on('wheeldown', () => {
          wheel(pane, 'down')
        })
      }
      if (mouse) applyMouse()
      askApproval()
    },
  }
}

/** The wheel scrolls the pane under the pointer, three rows a notch. */
function wheel(pane: Pane, action: 'up' | 'down'): void {
  for (let i = 0; i < WHEEL_ROWS; i++) pane.handle(action)
}

/** A key as the keymap names it: the typed character for printable keys ("G", "?", "["). */
export function keyName(ch: string | undefined, key: KeyEvent): string {
  const printable = ch !== undefined && Array.from(ch).length === 1 && ch > ' ' && ch !== '\x7f'
  return printable && !key.ctrl && !key.meta ? ch : key.full
}
