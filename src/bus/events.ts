import type { NetConnection } from '../network/types.js'
import type { ErrorInfo } from '../shared/errors.js'

/**
 * The single catalogue of bus events. Payloads are plain serialisable data (no class
 * instances, no Error objects) so the same stream can cross a process boundary.
 */
export interface EventMap {
  'sandbox.state': {
    sessionId: string
    sandboxId: string
    backend: string
    state: 'creating' | 'running' | 'stopped' | 'gone' | 'failed'
    detail?: string
    /** The egress mode of a running sandbox: `open` is shown loudly. */
    network?: 'none' | 'allowlist' | 'open'
    /** Weaker isolation than the backend's name promises (a microVM under TCG), shown loudly. */
    warning?: string
  }
  'sandbox.stats': {
    sessionId: string
    sandboxId: string
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
  'exec.started': { sessionId: string; execId: string; command: string; cwd: string; at: number }
  'exec.output': { sessionId: string; execId: string; stream: 'stdout' | 'stderr'; text: string }
  'exec.finished': {
    sessionId: string
    execId: string
    exitCode: number | null
    durationMs: number
    timedOut: boolean
    aborted: boolean
    truncatedBytes: number
  }
  'copy.progress': { sessionId: string; files: number; bytes: number; total?: number }
  'copy.finished': {
    sessionId: string
    files: number
    bytes: number
    skipped: { path: string; reason: string }[]
    durationMs: number
  }
  'image.progress': { image: string; step: string; detail?: string }

  'session.created': {
    sessionId: string
    /** `remote`: created by another Safe Coder process, seen through its event socket. */
    origin?: 'local' | 'remote'
    projectPath: string
    backend: string
    baseCommit: string
    files: number
  }
  'session.status': { sessionId: string; status: SessionActivity; detail?: string }

  'turn.started': { sessionId: string; turnId: string; prompt: string; at: number }
  'turn.finished': {
    sessionId: string
    turnId: string
    outcome: 'done' | 'aborted' | 'failed' | 'step-limit'
    steps: number
    durationMs: number
    usage: TokenUsage
    /** Totals of the session so far, this turn included. */
    sessionUsage: TokenUsage
    error?: ErrorInfo
  }
  /** A chunk of the assistant's streamed text. */
  'agent.text': { sessionId: string; turnId: string; text: string }
  'agent.step': {
    sessionId: string
    turnId: string
    step: number
    finishReason: string
    usage: TokenUsage
  }
  'agent.retry': {
    sessionId: string
    turnId: string
    attempt: number
    delayMs: number
    reason: string
  }
  'agent.compacted': {
    sessionId: string
    stage: 'pruned' | 'summarised'
    beforeTokens: number
    afterTokens: number
  }

  'tool.started': {
    sessionId: string
    turnId: string
    callId: string
    tool: string
    /** One line: the arguments as people read them. */
    args: string
    at: number
  }
  'tool.finished': {
    sessionId: string
    turnId: string
    callId: string
    tool: string
    isError: boolean
    /** One line: "edited src/a.ts", "exit 1 in 2.1 s". */
    summary: string
    durationMs: number
    commit?: string
  }
  'git.committed': {
    sessionId: string
    commit: string
    callId: string
    message: string
    changed: { path: string; status: string }[]
  }

  /** A connection the session's egress proxy let through (reported when it ends). */
  'net.allowed': NetEvent
  /** A connection the proxy refused, and why. */
  'net.denied': NetEvent

  'approval.requested': {
    sessionId: string
    requestId: string
    callId: string
    tool: string
    args: string
  }
  'approval.resolved': {
    sessionId: string
    requestId: string
    approved: boolean
    by: 'user' | 'policy'
  }
  error: { sessionId?: string; error: ErrorInfo }
}

export type EventName = keyof EventMap

/** What a live session is doing (the persisted status in session.json is coarser). */
export type SessionActivity = 'starting' | 'idle' | 'busy' | 'stopped' | 'failed'

/** A connection through a session's egress proxy (see network/types.ts). */
export type NetEvent = { sessionId: string } & NetConnection

export interface TokenUsage {
  inputTokens: number
  outputTokens: number
  totalTokens: number
}
