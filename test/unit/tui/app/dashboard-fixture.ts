import { onTestFinished, vi } from 'vitest'
import { createBus, type Bus } from '../../../../src/bus/bus.js'
import type { EventMap } from '../../../../src/bus/events.js'
import { ui } from '../../../../src/tui/blessed.js'
import { computeLayout } from '../../../../src/tui/layout.js'
import { openDashboard, type Dashboard, type DashboardOptions } from '../../../../src/tui/index.js'
import {
  createFakeSessionClient,
  type FakeSessionClient,
} from '../../../helpers/fake-session-client.js'
import { createFakeTerminal, type FakeTerminal } from '../../../helpers/tui-terminal.js'

export interface Rig {
  term: FakeTerminal
  bus: Bus<EventMap>
  client: FakeSessionClient
  dashboard: Dashboard
  /** Real paints of the screen so far. */
  readonly paints: number
  /** Everything the dashboard wrote to the terminal. */
  readonly written: string
  /** Types keys, lets the dashboard draw, and returns the screen. */
  press(keys: string): Promise<string>
  /** The screen once everything is drawn. */
  screen(): Promise<string>
}

export interface RigOptions {
  columns?: number
  rows?: number
  /** Project paths of the sessions that exist when the dashboard opens. */
  sessions?: string[]
  config?: Partial<DashboardOptions['config']>
  env?: Record<string, string | undefined>
  attach?: string
}

/**
 * A dashboard on a fake terminal and a fake client, quit when the test ends. Counts the real
 * `screen.render()` calls (the render loop's paints) by wrapping the screen as it is made.
 */
export function openRig(options: RigOptions = {}): Rig {
  const term = createFakeTerminal(options.columns ?? 120, options.rows ?? 40)
  const bus = createBus<EventMap>()
  const client = createFakeSessionClient(bus)
  for (const path of options.sessions ?? ['/work/alpha']) client.addSession(path)
  let paints = 0
  let written = ''
  const write = term.output.write.bind(term.output)
  term.output.write = ((chunk: string | Buffer, ...rest: never[]) => {
    written += typeof chunk === 'string' ? chunk : chunk.toString('utf8')
    return write(chunk, ...rest)
  }) as typeof term.output.write
  const makeScreen = ui.screen
  const spy = vi.spyOn(ui, 'screen').mockImplementation((screenOptions) => {
    const screen = makeScreen(screenOptions)
    const render = screen.render.bind(screen)
    screen.render = () => {
      paints++
      render()
    }
    return screen
  })
  let dashboard: Dashboard
  try {
    dashboard = openDashboard({
      bus,
      client,
      input: term.input,
      output: term.output,
      env: options.env ?? {},
      config: { mouse: false, fps: 60, logLines: 1000, keys: {}, ...options.config },
      ...(options.attach === undefined ? {} : { attach: options.attach }),
    })
  } finally {
    spy.mockRestore()
  }
  onTestFinished(async () => {
    // A test that made it fail has checked the failure already.
    await dashboard.quit().catch(() => undefined)
  })
  const screen = async (): Promise<string> => {
    await settle(dashboard)
    await term.flush()
    return term.text()
  }
  return {
    term,
    bus,
    client,
    dashboard,
    get paints() {
      return paints
    },
    get written() {
      return written
    },
    screen,
    async press(keys) {
      term.type(keys)
      return screen()
    },
  }
}

/** Lets blessed parse the keys (it does so on the next tick) and the render loop draw. */
export async function settle(dashboard: Dashboard): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve))
    await dashboard.idle()
  }
}

/** The chat's input line (the row above the chat's bottom border), without the borders. */
export function inputLine(screen: string, columns = 120, rows = 40): string {
  const chat = computeLayout(columns, rows).regions.chat
  const row = screen.split('\n')[chat.top + chat.height - 2] ?? ''
  return Array.from(row)
    .slice(chat.left + 1, chat.left + chat.width - 1)
    .join('')
    .trimEnd()
}

/** The status bar: the last row of the screen. */
export function statusLine(screen: string): string {
  return screen.split('\n').at(-1) ?? ''
}
