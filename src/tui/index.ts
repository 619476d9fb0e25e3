import type { Bus } from '../bus/bus.js'
import type { EventMap } from '../bus/events.js'
import type { SessionClient } from '../session/client.js'
import { createApp } from './app.js'

export interface DashboardOptions {
  bus: Bus<EventMap>
  client: SessionClient
  /** Default: process.stdin / process.stdout. */
  input?: NodeJS.ReadableStream
  output?: NodeJS.WritableStream
  /** The terminfo name blessed uses (default xterm-256color: under tmux, blessed's own guess
   * falls back to 8 colours). */
  terminal?: string
  env: Record<string, string | undefined>
  /** `[tui]` of the config; `keys` is `[tui.keys]` (action → key or keys). */
  config: { mouse: boolean; fps: number; logLines: number; keys: Record<string, string | string[]> }
  /** The session to focus first. */
  attach?: string
}

export interface Dashboard {
  /**
   * Resolves when the user has quit (after the unsynced-work question); the caller then closes
   * the sessions that are left, keeping their work. Rejects when the dashboard failed; the
   * terminal is restored either way.
   */
  readonly done: Promise<void>
  /** Closes the dashboard at once (e.g. on SIGTERM); resolves like `done`. */
  quit(): Promise<void>
  /** For tests: resolves when nothing is waiting to be drawn. */
  idle(): Promise<void>
}

/**
 * Opens the full-screen dashboard on a terminal. Throws CONFIG_INVALID for a bad `[tui.keys]`
 * before the terminal is touched.
 */
export function openDashboard(options: DashboardOptions): Dashboard {
  return createApp({
    bus: options.bus,
    client: options.client,
    input: options.input ?? process.stdin,
    output: options.output ?? process.stdout,
    terminal: options.terminal ?? 'xterm-256color',
    env: options.env,
    config: options.config,
    ...(options.attach === undefined ? {} : { attach: options.attach }),
  })
}
