import type { SessionClient } from '../../session/client.js'
import type { Box, Screen } from '../blessed.js'
import type { Action } from '../keymap.js'
import type { ViewState } from '../state/types.js'
import type { Theme } from '../theme.js'

export type PaneId = 'sessions' | 'chat' | 'log' | 'gauges' | 'timeline' | 'review'

/** What the app gives every pane. */
export interface PaneContext {
  screen: Screen
  client: SessionClient
  theme: Theme
  /** The latest state (panes read it when handling keys). */
  state(): ViewState
  /** Ask for a redraw; the render loop coalesces them (at most one per frame). */
  invalidate(): void
  /** A one-line message in the status bar. */
  notify(level: 'info' | 'warn' | 'error', text: string): void
  /** A modal yes/no question; resolves false on Escape. */
  confirm(question: string): Promise<boolean>
  /** A modal one-line question; resolves undefined on Escape. */
  ask(question: string, initial?: string): Promise<string | undefined>
  /** Opens the review view of a session (whole session, or one commit). */
  openReview(sessionId: string, commit?: string): void
}

/**
 * A pane draws the state into its box and handles the actions of its scope while focused. It
 * never calls `screen.render()` itself: the render loop does, once per frame.
 */
export interface Pane {
  readonly id: PaneId
  readonly box: Box
  /** Redraws from the state (only called when `state.version` changed or the pane asked). */
  render(state: ViewState): void
  /** Handles an action while focused; returns true when it used it. */
  handle(action: Action): boolean
  /** The status bar hints when focused: [action, short label]. */
  readonly hints: readonly (readonly [Action, string])[]
  dispose(): void
}
