import type { Envelope } from '../bus/bus.js'
import type { EventMap } from '../bus/events.js'
import type { SessionClient } from '../session/client.js'
import { toErrorInfo } from '../shared/errors.js'
import type { ViewAction } from './state/reduce.js'

export interface ClientFacts {
  /** A session the dashboard shows: loads its history and counts its unsynced files. */
  seen(id: string): void
  /** Counts a session's unsynced files again (soon, once for a burst of calls). */
  refresh(id: string): void
  onEvent(event: Envelope<EventMap>): void
  dispose(): void
}

/** After a commit, wait this long for more before asking how much is unsynced. */
const UNSYNCED_DEBOUNCE_MS = 300

/**
 * Keeps what only the client knows in the state: each session's history (its timeline from
 * before the dashboard opened) and its unsynced count, refreshed after commits. Answers that
 * arrive after disposal are dropped.
 */
export function createClientFacts(options: {
  client: SessionClient
  dispatch(action: ViewAction): void
  notify(level: 'warn', text: string): void
}): ClientFacts {
  const { client } = options
  const known = new Set<string>()
  const timers = new Map<string, NodeJS.Timeout>()
  let disposed = false

  const report = (what: string) => (error: unknown) => {
    if (!disposed) options.notify('warn', `${what}: ${toErrorInfo(error).message}`)
  }

  function refreshUnsynced(id: string): void {
    if (timers.has(id) || disposed) return
    const timer = setTimeout(() => {
      timers.delete(id)
      client.unsynced(id).then(
        (count) => {
          if (!disposed)
            options.dispatch({ name: 'client.unsynced', payload: { sessionId: id, count } })
        },
        report(`cannot count unsynced files of ${id}`),
      )
    }, UNSYNCED_DEBOUNCE_MS)
    timer.unref()
    timers.set(id, timer)
  }

  function seen(id: string): void {
    if (known.has(id) || disposed) return
    known.add(id)
    client.timeline(id).then(
      (commits) => {
        if (!disposed)
          options.dispatch({ name: 'client.timeline', payload: { sessionId: id, commits } })
      },
      report(`cannot read the history of ${id}`),
    )
    refreshUnsynced(id)
  }

  return {
    seen,
    refresh: refreshUnsynced,
    onEvent(event) {
      if (event.name === 'session.created') seen(event.payload.sessionId)
      else if (event.name === 'git.committed' || event.name === 'turn.finished') {
        refreshUnsynced(event.payload.sessionId)
      }
    },
    dispose() {
      disposed = true
      for (const timer of timers.values()) clearTimeout(timer)
      timers.clear()
    },
  }
}
