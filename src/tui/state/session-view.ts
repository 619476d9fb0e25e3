import type { TokenUsage } from '../../bus/events.js'
import { ExecLog } from './exec-log.js'
import type { ChatEntry, LogRing, SessionView, ViewLimits, ViewState } from './types.js'

export const DEFAULT_LOG_LINES = 10_000
export const DEFAULT_HISTORY_LENGTH = 120
export const DEFAULT_CHAT_ENTRIES = 500
/** Exec headers kept per session (the log's lines of older execs have long left the ring). */
export const MAX_EXECS = 1000

export function limitsOf(state: ViewState): ViewLimits {
  return (
    state.limits ?? {
      logLines: DEFAULT_LOG_LINES,
      historyLength: DEFAULT_HISTORY_LENGTH,
      chatEntries: DEFAULT_CHAT_ENTRIES,
    }
  )
}

export const zeroUsage: TokenUsage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 }

export function createSessionView(
  fields: Pick<SessionView, 'id' | 'projectPath' | 'backend' | 'origin'>,
  limits: ViewLimits,
): SessionView {
  return {
    ...fields,
    status: 'unknown',
    unsynced: 0,
    chat: [],
    log: new ExecLog(limits.logLines),
    execs: {},
    stats: { cpuPercent: [], memoryBytes: [] },
    timeline: [],
    approvals: [],
    usage: zeroUsage,
  }
}

/** The writable log behind a session's `log` (every SessionView the reducer makes has one). */
export function execLog(log: LogRing): ExecLog | undefined {
  return log instanceof ExecLog ? log : undefined
}

/** Appends, dropping the oldest entries beyond `max`. */
export function pushBounded<T>(list: readonly T[], item: T, max: number): T[] {
  const keep = Math.max(0, max - 1)
  return list.length > keep ? [...list.slice(list.length - keep), item] : [...list, item]
}

export function pushChat(session: SessionView, entry: ChatEntry, limits: ViewLimits): SessionView {
  return { ...session, chat: pushBounded(session.chat, entry, limits.chatEntries) }
}
