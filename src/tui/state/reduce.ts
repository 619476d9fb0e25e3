import type { Envelope } from '../../bus/bus.js'
import type { EventMap } from '../../bus/events.js'
import type { SessionSummary, TimelineCommit } from '../../session/client.js'
import * as chat from './reduce-chat.js'
import * as exec from './reduce-exec.js'
import { sanitizeLine } from './sanitize.js'
import {
  createSessionView,
  DEFAULT_CHAT_ENTRIES,
  DEFAULT_HISTORY_LENGTH,
  limitsOf,
} from './session-view.js'
import type { SessionView, ViewLimits, ViewState } from './types.js'

/** What the app learns outside the bus (SessionClient answers) and what the user does. */
export type LocalAction =
  /** Adds the sessions not yet known; known ones keep their state. */
  | { name: 'client.sessions'; payload: { sessions: SessionSummary[] } }
  /** Replaces the timeline (newest first). */
  | { name: 'client.timeline'; payload: { sessionId: string; commits: TimelineCommit[] } }
  | { name: 'client.unsynced'; payload: { sessionId: string; count: number } }
  /** The session was closed or discarded: it leaves the dashboard. */
  | { name: 'client.removed'; payload: { sessionId: string } }
  | { name: 'ui.focus'; payload: { sessionId: string } }
  /** A notice in a session's chat (the focused one when no id is given). */
  | {
      name: 'ui.notice'
      payload: { sessionId?: string; level: 'info' | 'warn' | 'error'; text: string }
    }

export type ViewAction = Envelope<EventMap> | LocalAction

export function initialState(options: {
  logLines: number
  historyLength?: number
  chatEntries?: number
}): ViewState {
  return {
    sessions: {},
    order: [],
    focused: undefined,
    version: 0,
    limits: {
      logLines: options.logLines,
      historyLength: options.historyLength ?? DEFAULT_HISTORY_LENGTH,
      chatEntries: options.chatEntries ?? DEFAULT_CHAT_ENTRIES,
    },
  }
}

/**
 * The dashboard's reducer. Pure from the caller's view: it returns a new ViewState with a new
 * `version` when something changed, and the same object when nothing did (an event for an
 * unknown session, an event the dashboard does not show), so the render loop can skip frames.
 *
 * One exception, for speed: a session's log ring is mutated in place (a flood of 10,000 lines a
 * second must not copy arrays), so an old ViewState sees the new lines too. The SessionView that
 * holds the ring is still replaced, and `log.version` tells panes the ring moved.
 *
 * `now` stamps what events do not date themselves (commits, the sandbox's start).
 */
export function reduce(state: ViewState, action: ViewAction, now: number = Date.now()): ViewState {
  const limits = limitsOf(state)
  switch (action.name) {
    case 'client.sessions':
      return addSessions(state, action.payload.sessions, limits)
    case 'client.removed':
      return removeSession(state, action.payload.sessionId)
    case 'ui.focus':
      return state.focused === action.payload.sessionId ||
        state.sessions[action.payload.sessionId] === undefined
        ? state
        : { ...state, focused: action.payload.sessionId, version: state.version + 1 }
    case 'ui.notice': {
      const { sessionId = state.focused, level, text } = action.payload
      return update(state, sessionId, (s) => chat.notice(s, level, text, limits))
    }
    case 'client.timeline':
      return update(state, action.payload.sessionId, (s) =>
        exec.clientTimeline(s, action.payload.commits),
      )
    case 'client.unsynced':
      return update(state, action.payload.sessionId, (s) =>
        s.unsynced === action.payload.count ? s : { ...s, unsynced: action.payload.count },
      )
    case 'session.created':
      return sessionCreated(state, action.payload, limits)
    case 'error': {
      const { sessionId = state.focused, error } = action.payload
      return update(state, sessionId, (s) => chat.failed(s, error, limits))
    }
    case 'image.progress':
      return state
    default:
      return update(state, action.payload.sessionId, (s) => sessionEvent(s, action, limits, now))
  }
}

type SessionEvent = Exclude<
  Envelope<EventMap>,
  { name: 'session.created' | 'error' | 'image.progress' }
>

function sessionEvent(
  s: SessionView,
  action: SessionEvent,
  limits: ViewLimits,
  now: number,
): SessionView {
  switch (action.name) {
    case 'session.status': {
      const { status } = action.payload
      const detail =
        action.payload.detail === undefined ? undefined : sanitizeLine(action.payload.detail)
      if (s.status === status && s.statusDetail === detail) return s
      const next: SessionView = { ...s, status }
      if (detail === undefined) delete next.statusDetail
      else next.statusDetail = detail
      return next
    }
    case 'sandbox.state':
      return exec.sandboxState(s, action.payload, now)
    case 'sandbox.stats':
      return exec.sandboxStats(s, action.payload, limits)
    case 'exec.started':
      return exec.execStarted(s, action.payload)
    case 'exec.output':
      return exec.execOutput(s, action.payload)
    case 'exec.finished':
      return exec.execFinished(s, action.payload, now)
    case 'git.committed':
      return exec.gitCommitted(s, action.payload, now)
    case 'turn.started':
      return chat.turnStarted(s, action.payload, limits)
    case 'agent.text':
      return chat.agentText(s, action.payload, limits)
    case 'agent.step':
      return chat.agentStep(s, action.payload)
    case 'agent.retry':
      return chat.agentRetry(s, action.payload, limits)
    case 'agent.compacted':
      return chat.agentCompacted(s, action.payload, limits)
    case 'tool.started':
      return chat.toolStarted(s, action.payload, limits)
    case 'tool.finished':
      return chat.toolFinished(s, action.payload, limits)
    case 'turn.finished':
      return chat.turnFinished(s, action.payload, limits)
    case 'approval.requested':
      return chat.approvalRequested(s, action.payload)
    case 'approval.resolved':
      return chat.approvalResolved(s, action.payload)
    case 'net.allowed':
      return exec.netEvent(s, action.payload, true)
    case 'net.denied':
      return exec.netEvent(s, action.payload, false)
    case 'copy.progress':
    case 'copy.finished':
      return s
  }
}

/** Applies `change` to a known session; the same state when it is unknown or unchanged. */
function update(
  state: ViewState,
  sessionId: string | undefined,
  change: (session: SessionView) => SessionView,
): ViewState {
  const session = sessionId === undefined ? undefined : state.sessions[sessionId]
  if (session === undefined) return state
  const next = change(session)
  if (next === session) return state
  return {
    ...state,
    sessions: { ...state.sessions, [session.id]: next },
    version: state.version + 1,
  }
}

function sessionCreated(
  state: ViewState,
  p: EventMap['session.created'],
  limits: ViewLimits,
): ViewState {
  const known = state.sessions[p.sessionId]
  if (known !== undefined) {
    if (known.projectPath === p.projectPath && known.backend === p.backend) return state
    return update(state, p.sessionId, (s) => ({
      ...s,
      projectPath: p.projectPath,
      backend: p.backend,
    }))
  }
  const session = createSessionView(
    {
      id: p.sessionId,
      projectPath: p.projectPath,
      backend: p.backend,
      origin: p.origin ?? 'local',
    },
    limits,
  )
  return withNewSessions(state, [session])
}

function addSessions(state: ViewState, summaries: SessionSummary[], limits: ViewLimits): ViewState {
  const seen = new Set<string>()
  const added: SessionView[] = []
  for (const s of summaries) {
    if (state.sessions[s.id] !== undefined || seen.has(s.id)) continue
    seen.add(s.id)
    const fields = { id: s.id, projectPath: s.projectPath, backend: s.backend, origin: s.origin }
    added.push(createSessionView(fields, limits))
  }
  return withNewSessions(state, added)
}

function withNewSessions(state: ViewState, added: SessionView[]): ViewState {
  const first = added[0]
  if (first === undefined) return state
  const sessions = { ...state.sessions }
  for (const s of added) sessions[s.id] = s
  return {
    ...state,
    sessions,
    order: [...state.order, ...added.map((s) => s.id)],
    focused: state.focused ?? first.id,
    version: state.version + 1,
  }
}

/** Drops a session; focus moves to the next one in order (or the previous, or none). */
function removeSession(state: ViewState, sessionId: string): ViewState {
  if (state.sessions[sessionId] === undefined) return state
  const { [sessionId]: _removed, ...sessions } = state.sessions
  const index = state.order.indexOf(sessionId)
  const order = state.order.filter((id) => id !== sessionId)
  const focused =
    state.focused === sessionId ? order[Math.min(index, order.length - 1)] : state.focused
  return { ...state, sessions, order, focused, version: state.version + 1 }
}
