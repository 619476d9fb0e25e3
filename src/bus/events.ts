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
  error: { sessionId?: string; error: ErrorInfo }
}

export type EventName = keyof EventMap
