import type { SessionActivity, TokenUsage } from '../../bus/events.js'
import type { ErrorInfo } from '../../shared/errors.js'

/**
 * The dashboard's view model: everything the panes draw, built only from bus events (and the
 * few answers of the SessionClient), by the pure reducer in `reduce.ts`. Bounded: chat, log and
 * stats histories are capped so a flood cannot grow memory without limit.
 */
export interface ViewState {
  /** By session id. */
  sessions: Record<string, SessionView>
  /** Display order (creation order); number keys pick from it. */
  order: string[]
  /** The session the panes show. */
  focused: string | undefined
  /** Bumped by every change, so the render loop knows when there is something to draw. */
  version: number
  /** The bounds the reducer keeps; set by `initialState` (defaults apply when absent). */
  limits?: ViewLimits
}

export interface ViewLimits {
  /** Log ring capacity of each session. */
  logLines: number
  /** Samples kept in each stats history. */
  historyLength: number
  /** Chat entries kept per session. */
  chatEntries: number
}

export interface SessionView {
  id: string
  projectPath: string
  backend: string
  origin: 'local' | 'remote'
  status: SessionActivity | 'unknown'
  statusDetail?: string
  /** Changed files not yet synced, as last reported by the client. */
  unsynced: number
  /** The running turn, if any. */
  turn?: { id: string; startedAt: number }
  chat: ChatEntry[]
  /** The process log: a ring buffer of lines (see ring.ts); `log.version` bumps on every push. */
  log: LogRing
  /** Execs by id, for the log's headers (command, exit code, duration). */
  execs: Record<string, ExecView>
  stats: StatsView
  /** Newest first. */
  timeline: TimelineEntry[]
  /** Approval requests waiting for an answer, oldest first. */
  approvals: { requestId: string; callId: string; tool: string; args: string }[]
  usage: TokenUsage
  lastError?: ErrorInfo
  /** Egress mode of its sandbox; `open` is shown loudly in the status bar. */
  network?: 'none' | 'allowlist' | 'open'
  /** Weaker isolation than the backend promises (a microVM under TCG); shown in the status bar. */
  warning?: string
  /** The latest connection the egress proxy refused, which `a` offers to allow. */
  lastDenied?: { host: string; port: number }
}

export type ChatEntry =
  | { kind: 'user'; text: string; at: number }
  /** Streamed text of one model step; `agent.text` appends to the last open one. */
  | { kind: 'assistant'; text: string; turnId: string; done: boolean }
  | {
      kind: 'tool'
      callId: string
      tool: string
      args: string
      status: 'running' | 'ok' | 'error'
      summary?: string
      durationMs?: number
      commit?: string
    }
  | { kind: 'notice'; level: 'info' | 'warn' | 'error'; text: string }

export interface LogLine {
  execId: string
  /** `meta`: the header and footer lines of an exec ("$ npm test", "exit 0 in 1.2 s"). */
  stream: 'stdout' | 'stderr' | 'meta'
  text: string
}

/** A fixed-capacity ring of log lines; pushes are O(1) and old lines fall off the front. */
export interface LogRing {
  readonly capacity: number
  /** Lines currently held (≤ capacity). */
  readonly length: number
  /** Total lines ever pushed (so a pane can tell how far it has scrolled). */
  readonly pushed: number
  readonly version: number
  /** The i-th held line, 0 = oldest. */
  at(index: number): LogLine | undefined
}

export interface ExecView {
  execId: string
  command: string
  startedAt: number
  exitCode?: number | null
  durationMs?: number
  timedOut?: boolean
  aborted?: boolean
}

export interface StatsView {
  /** Newest last; at most `historyLength` samples each. */
  cpuPercent: number[]
  memoryBytes: number[]
  latest?: {
    at: number
    cpuPercent: number
    memoryBytes: number
    memoryLimitBytes: number
    pids: number
    blockReadBytes: number
    blockWriteBytes: number
    netRxBytes: number
    netTxBytes: number
  }
  /** When the sandbox started (first `running` state), for the uptime gauge. */
  startedAt?: number
}

export interface TimelineEntry {
  commit: string
  callId: string
  message: string
  changed: { path: string; status: string }[]
  /** Lines added/removed when known (from the client's timeline), else undefined. */
  added?: number
  removed?: number
  at: number
}
