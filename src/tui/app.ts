import type { Bus } from '../bus/bus.js'
import { DisposableStore, toDisposable } from '../bus/disposable.js'
import type { EventMap } from '../bus/events.js'
import type { SessionClient } from '../session/client.js'
import { ui, type KeyEvent, type Screen } from './blessed.js'
import { createClientFacts } from './client-facts.js'
import { createCommands } from './commands.js'
import { createFocus } from './focus.js'
import { resolveKeymap, type Keymap } from './keys.js'
import { computeLayout } from './layout.js'
import { createHelp } from './overlays/help.js'
import { createModal } from './overlays/modal.js'
import { createPalette } from './overlays/palette.js'
import { createPanes } from './panes.js'
import { createRenderLoop } from './render-loop.js'
import { initialState, reduce, type ViewAction } from './state/reduce.js'
import { createStatusBar } from './status-bar.js'
import { createTheme } from './theme.js'

export interface AppOptions {
  bus: Bus<EventMap>
  client: SessionClient
  input: NodeJS.ReadableStream
  output: NodeJS.WritableStream
  terminal: string
  env: Record<string, string | undefined>
  config: { mouse: boolean; fps: number; logLines: number; keys: Record<string, string | string[]> }
  attach?: string
}

export interface App {
  readonly done: Promise<void>
  quit(): Promise<void>
  idle(): Promise<void>
}

/**
 * The dashboard: folds bus events into the view state, draws the panes at most once per frame
 * (only when the state moved or a pane asked), routes keys, and restores the terminal however
 * it ends. Everything it creates is owned by one DisposableStore.
 */
export function createApp(options: AppOptions): App {
  // A bad [tui.keys] fails here, before the terminal is touched.
  const keymap = resolveKeymap(options.config.keys)
  const screen = ui.screen({
    input: options.input,
    output: options.output,
    terminal: options.terminal,
    fullUnicode: true,
    // No locale at all (a bare `docker exec` shell, CI): assume UTF-8 like every current
    // terminal, rather than drawing gauges and markers as "?". An explicit non-UTF-8 locale wins.
    forceUnicode: noLocale(options.env),
    warnings: false,
    title: 'Safe Coder',
    // Ctrl-C reaches the app even while a textbox has the keys.
    ignoreLocked: [...keymap.keysOf('force-quit')],
  })
  const store = new DisposableStore()
  try {
    return startApp(options, keymap, screen, store)
  } catch (error) {
    // Whatever was built goes, and the terminal is restored before the error surfaces.
    try {
      store.dispose()
    } finally {
      screen.destroy()
    }
    throw error
  }
}

function startApp(
  options: AppOptions,
  keymap: Keymap,
  screen: Screen,
  store: DisposableStore,
): App {
  const theme = createTheme(options.env)
  let finished = false
  let settle: (error?: unknown) => void = () => undefined
  const done = new Promise<void>((resolve, reject) => {
    settle = (error) => {
      if (error === undefined) resolve()
      else
        reject(error instanceof Error ? error : new Error('the dashboard failed', { cause: error }))
    }
  })
  let state = initialState({ logLines: options.config.logLines })
  let drawnVersion = -1
  /** `attach` names a session that may only appear later (another process's, found by the monitor). */
  let attach = options.attach

  const loop = createRenderLoop({ fps: options.config.fps, draw: frame, onError: fail })
  store.add(
    toDisposable(() => {
      loop.dispose()
    }),
  )
  const request = (): void => {
    loop.request()
  }
  const paint = ui.coalesceRenders(screen, request)
  const statusBar = store.add(createStatusBar({ screen, theme, keymap, request }))
  const notify = statusBar.notify.bind(statusBar)

  const dispatch = (action: ViewAction): void => {
    const next = reduce(state, action)
    if (next === state) return
    state = next
    request()
    if (attach !== undefined && state.sessions[attach] !== undefined) {
      const sessionId = attach
      attach = undefined
      dispatch({ name: 'ui.focus', payload: { sessionId } })
    }
    commands.afterChange()
  }

  const modal = store.add(createModal({ screen, theme, invalidate: request }))
  const facts = store.add(createClientFacts({ client: options.client, dispatch, notify }))
  const panes = createPanes({
    ...{ screen, theme, keymap, client: options.client, request, notify, modal, store },
    state: () => state,
    focusSession: (sessionId) => {
      dispatch({ name: 'ui.focus', payload: { sessionId } })
    },
  })
  const focus = createFocus({ panes, theme, request })
  const overlayOptions = { screen, theme, keymap, invalidate: request }
  const help = store.add(createHelp(overlayOptions))
  const commands = createCommands({
    ...{ client: options.client, keymap, screen, env: options.env, mouse: options.config.mouse },
    ...{ state: () => state, dispatch, notify, modal, help, panes, focus, finish },
    refreshUnsynced: (id) => {
      facts.refresh(id)
    },
  })
  const palette = store.add(
    createPalette({
      ...overlayOptions,
      available: (entry) => commands.available(entry.action),
      run: (action) => commands.run(action),
    }),
  )
  commands.attachPalette(palette)

  function frame(): void {
    if (finished) return
    const moved = state.version !== drawnVersion
    drawnVersion = state.version
    panes.render(state, moved)
    statusBar.render(state, focus.current())
    paint()
  }

  function applyLayout(): void {
    const layout = computeLayout(screen.width as number, screen.height as number)
    panes.layout(layout)
    statusBar.layout(layout.regions.status)
    for (const overlay of [modal, help, palette]) overlay.layout(layout.body)
    drawnVersion = -1
    request()
  }

  /** Ends the dashboard once: disposes everything, restores the terminal, settles `done`. */
  function finish(message?: string, error?: unknown): void {
    if (finished) return
    finished = true
    let failure = error
    try {
      store.dispose()
    } catch (disposeError) {
      failure ??= disposeError
    }
    screen.destroy()
    if (message !== undefined) options.output.write(`${message}\n`)
    settle(failure)
  }

  function fail(error: unknown): void {
    finish(undefined, error)
  }

  // Every way in from outside (keys, bus, resize) is guarded: a throw restores the terminal.
  const guarded =
    <A extends unknown[]>(fn: (...args: A) => void) =>
    (...args: A): void => {
      try {
        fn(...args)
      } catch (error) {
        fail(error)
      }
    }

  screen.on(
    'keypress',
    guarded((ch: string | undefined, key: KeyEvent) => {
      commands.key(ch, key)
    }),
  )
  screen.on('resize', guarded(applyLayout))
  store.add(
    options.bus.onAny(
      guarded((event) => {
        dispatch(event)
        facts.onEvent(event)
        commands.onEvent(event)
      }),
    ),
  )
  dispatch({ name: 'client.sessions', payload: { sessions: options.client.list() } })
  for (const id of state.order) facts.seen(id)
  applyLayout()
  commands.start()

  return {
    done,
    quit() {
      finish()
      return done
    },
    idle: () => loop.idle(),
  }
}

function noLocale(env: Record<string, string | undefined>): boolean {
  return [env.LC_ALL, env.LC_CTYPE, env.LANG].every((v) => v === undefined || v === '')
}
