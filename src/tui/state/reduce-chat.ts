import type { EventMap, TokenUsage } from '../../bus/events.js'
import type { ErrorInfo } from '../../shared/errors.js'
import { formatDuration } from '../../shared/format.js'
import { sanitizeLine, sanitizeText } from './sanitize.js'
import { pushChat } from './session-view.js'
import type { ChatEntry, SessionView, ViewLimits } from './types.js'

/**
 * The conversation side of a session: turns, streamed text, tool calls, approvals, notices.
 * Each handler returns the session unchanged (the same object) when the event changes nothing.
 */

type Assistant = Extract<ChatEntry, { kind: 'assistant' }>
type Tool = Extract<ChatEntry, { kind: 'tool' }>

export function turnStarted(
  session: SessionView,
  p: EventMap['turn.started'],
  limits: ViewLimits,
): SessionView {
  const entry: ChatEntry = { kind: 'user', text: sanitizeText(p.prompt), at: p.at }
  return {
    ...pushChat(closeAssistant(session), entry, limits),
    turn: { id: p.turnId, startedAt: p.at },
  }
}

export function agentText(
  session: SessionView,
  p: EventMap['agent.text'],
  limits: ViewLimits,
): SessionView {
  const last = session.chat.at(-1)
  if (last?.kind === 'assistant' && !last.done && last.turnId === p.turnId) {
    const column = last.text.length - last.text.lastIndexOf('\n') - 1
    const more = sanitizeText(p.text, { startColumn: column })
    return more === '' ? session : replaceLast(session, { ...last, text: last.text + more })
  }
  const text = sanitizeText(p.text)
  if (text === '') return session
  const entry: Assistant = {
    kind: 'assistant',
    text,
    turnId: p.turnId,
    done: false,
  }
  return pushChat(closeAssistant(session), entry, limits)
}

/** A model step ended: its text is complete; live usage grows until `turn.finished` settles it. */
export function agentStep(session: SessionView, p: EventMap['agent.step']): SessionView {
  const closed = closeAssistant(session)
  const usage = addUsage(closed.usage, p.usage)
  return usage.totalTokens === closed.usage.totalTokens &&
    usage.inputTokens === closed.usage.inputTokens &&
    usage.outputTokens === closed.usage.outputTokens
    ? closed
    : { ...closed, usage }
}

export function toolStarted(
  session: SessionView,
  p: EventMap['tool.started'],
  limits: ViewLimits,
): SessionView {
  const entry: Tool = {
    kind: 'tool',
    callId: p.callId,
    tool: sanitizeLine(p.tool),
    args: sanitizeLine(p.args),
    status: 'running',
  }
  return pushChat(closeAssistant(session), entry, limits)
}

export function toolFinished(
  session: SessionView,
  p: EventMap['tool.finished'],
  limits: ViewLimits,
): SessionView {
  const done: Partial<Tool> = {
    status: p.isError ? 'error' : 'ok',
    summary: sanitizeLine(p.summary),
    durationMs: p.durationMs,
    ...(p.commit === undefined ? {} : { commit: p.commit }),
  }
  const index = session.chat.findLastIndex((e) => e.kind === 'tool' && e.callId === p.callId)
  const found = session.chat[index]
  if (found?.kind !== 'tool') {
    // Joined mid-call (a remote session): show the finished call anyway.
    const entry: Tool = { kind: 'tool', callId: p.callId, tool: p.tool, args: '', status: 'ok' }
    return pushChat(session, { ...entry, ...done }, limits)
  }
  const chat = [...session.chat]
  chat[index] = { ...found, ...done }
  return { ...session, chat }
}

export function turnFinished(
  session: SessionView,
  p: EventMap['turn.finished'],
  limits: ViewLimits,
): SessionView {
  let next: SessionView = { ...closeAssistant(session), usage: p.sessionUsage }
  delete next.turn
  if (p.outcome !== 'done') {
    const message = p.error === undefined ? '' : `: ${p.error.message}`
    const notice: ChatEntry =
      p.outcome === 'aborted'
        ? { kind: 'notice', level: 'warn', text: sanitizeLine(`Turn cancelled${message}`) }
        : p.outcome === 'step-limit'
          ? { kind: 'notice', level: 'error', text: sanitizeLine(`Step limit reached${message}`) }
          : { kind: 'notice', level: 'error', text: sanitizeLine(`Turn failed${message}`) }
    next = pushChat(next, notice, limits)
  }
  return next
}

export function agentRetry(
  session: SessionView,
  p: EventMap['agent.retry'],
  limits: ViewLimits,
): SessionView {
  const text = `Retrying (attempt ${p.attempt}) in ${formatDuration(p.delayMs)}: ${p.reason}`
  return pushChat(session, { kind: 'notice', level: 'warn', text: sanitizeLine(text) }, limits)
}

export function agentCompacted(
  session: SessionView,
  p: EventMap['agent.compacted'],
  limits: ViewLimits,
): SessionView {
  const how = p.stage === 'pruned' ? 'pruned' : 'summarised'
  const text = `Context ${how}: ${p.beforeTokens} to ${p.afterTokens} tokens`
  return pushChat(session, { kind: 'notice', level: 'info', text }, limits)
}

export function notice(
  session: SessionView,
  level: 'info' | 'warn' | 'error',
  text: string,
  limits: ViewLimits,
): SessionView {
  return pushChat(session, { kind: 'notice', level, text: sanitizeLine(text) }, limits)
}

export function failed(session: SessionView, error: ErrorInfo, limits: ViewLimits): SessionView {
  const hint = error.hint === undefined ? '' : ` ${error.hint}`
  return { ...notice(session, 'error', `${error.message}${hint}`, limits), lastError: error }
}

export function approvalRequested(
  session: SessionView,
  p: EventMap['approval.requested'],
): SessionView {
  if (session.approvals.some((a) => a.requestId === p.requestId)) return session
  const request = {
    requestId: p.requestId,
    callId: p.callId,
    tool: sanitizeLine(p.tool),
    args: sanitizeLine(p.args),
  }
  return { ...session, approvals: [...session.approvals, request] }
}

export function approvalResolved(
  session: SessionView,
  p: EventMap['approval.resolved'],
): SessionView {
  const approvals = session.approvals.filter((a) => a.requestId !== p.requestId)
  return approvals.length === session.approvals.length ? session : { ...session, approvals }
}

/** Marks the open assistant entry done (the last assistant entry, when still open). */
function closeAssistant(session: SessionView): SessionView {
  const index = session.chat.findLastIndex((e) => e.kind === 'assistant')
  const entry = session.chat[index]
  if (entry?.kind !== 'assistant' || entry.done) return session
  const chat = [...session.chat]
  chat[index] = { ...entry, done: true }
  return { ...session, chat }
}

function replaceLast(session: SessionView, entry: ChatEntry): SessionView {
  return { ...session, chat: [...session.chat.slice(0, -1), entry] }
}

function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    totalTokens: a.totalTokens + b.totalTokens,
  }
}
