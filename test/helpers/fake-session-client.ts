import type { Bus } from '../../src/bus/bus.js'
import type { EventMap } from '../../src/bus/events.js'
import type { SessionClient, SessionSummary } from '../../src/session/client.js'

/** One recorded call of the fake client. */
export interface ClientCall {
  method: keyof SessionClient
  args: unknown[]
}

/**
 * An in-memory SessionClient for dashboard tests: records every call, keeps a session list and
 * unsynced counts the test sets, and emits the bus events a real session would (session
 * created/status, a demo turn with streamed text and tool calls).
 */
export interface FakeSessionClient extends SessionClient {
  readonly calls: ClientCall[]
  /** Calls of one method, newest last. */
  callsOf(method: keyof SessionClient): unknown[][]
  /** Adds a session and emits `session.created` and `session.status idle`; returns its id. */
  addSession(projectPath: string, options?: Partial<SessionSummary>): string
  setUnsynced(id: string, count: number): void
  /** What `prompt` does after recording the call; the default plays `playTurn(id, text)`. */
  onPrompt: (id: string, text: string) => Promise<void>
  /** Emits a whole demo turn: turn.started, streamed text, optional tool calls, turn.finished. */
  playTurn(id: string, prompt: string, script?: TurnScript): void
  /** Waits until `method` has been called `count` times (polls the event loop, no sleeps). */
  waitForCall(method: keyof SessionClient, count?: number, timeoutMs?: number): Promise<unknown[]>
}

export interface TurnScript {
  text?: string[]
  tools?: { tool: string; args: string; isError?: boolean; summary?: string; ms?: number }[]
  /** Leave the turn running (no turn.finished). */
  open?: boolean
}

const noUsage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 }

export function createFakeSessionClient(bus: Bus<EventMap>): FakeSessionClient {
  const calls: ClientCall[] = []
  const sessions: SessionSummary[] = []
  const unsynced = new Map<string, number>()
  let nextId = 1
  let nextTurn = 1
  const record = (method: keyof SessionClient, ...args: unknown[]): void => {
    calls.push({ method, args })
  }

  const client: FakeSessionClient = {
    calls,
    callsOf: (method) => calls.filter((c) => c.method === method).map((c) => c.args),
    addSession(projectPath, options = {}) {
      const id = options.id ?? `s${nextId++}`
      const backend = options.backend ?? 'docker'
      sessions.push({ id, projectPath, backend, origin: 'local', ownerPid: 1, ...options })
      bus.emit('session.created', {
        sessionId: id,
        projectPath,
        backend,
        baseCommit: 'c0',
        files: 3,
      })
      bus.emit('session.status', { sessionId: id, status: 'idle' })
      return id
    },
    setUnsynced: (id, count) => unsynced.set(id, count),
    onPrompt: (id, text) => {
      client.playTurn(id, text)
      return Promise.resolve()
    },
    playTurn(id, prompt, script = {}) {
      const turnId = `t${nextTurn++}`
      const at = Date.now()
      bus.emit('session.status', { sessionId: id, status: 'busy' })
      bus.emit('turn.started', { sessionId: id, turnId, prompt, at })
      for (const text of script.text ?? [`You said: ${prompt}`]) {
        bus.emit('agent.text', { sessionId: id, turnId, text })
      }
      for (const [i, t] of (script.tools ?? []).entries()) {
        const callId = `${turnId}-c${i}`
        bus.emit('tool.started', { sessionId: id, turnId, callId, tool: t.tool, args: t.args, at })
        bus.emit('tool.finished', {
          sessionId: id,
          turnId,
          callId,
          tool: t.tool,
          isError: t.isError ?? false,
          summary: t.summary ?? 'exit 0',
          durationMs: t.ms ?? 1200,
        })
      }
      if (script.open === true) return
      bus.emit('turn.finished', {
        sessionId: id,
        turnId,
        outcome: 'done',
        steps: 1,
        durationMs: 5,
        usage: noUsage,
        sessionUsage: noUsage,
      })
      bus.emit('session.status', { sessionId: id, status: 'idle' })
    },
    async waitForCall(method, count = 1, timeoutMs = 2000) {
      const end = Date.now() + timeoutMs
      while (client.callsOf(method).length < count) {
        if (Date.now() > end) {
          throw new Error(
            `${method} was called ${client.callsOf(method).length} times, not ${count}`,
          )
        }
        await new Promise((r) => setTimeout(r, 5))
      }
      return client.callsOf(method)[count - 1] ?? []
    },

    list: () => sessions.map((s) => ({ ...s })),
    create(projectPath) {
      record('create', projectPath)
      return Promise.resolve(client.addSession(projectPath))
    },
    close(id, choice) {
      record('close', id, choice)
      const index = sessions.findIndex((s) => s.id === id)
      if (index >= 0) sessions.splice(index, 1)
      bus.emit('session.status', { sessionId: id, status: 'stopped' })
      return Promise.resolve()
    },
    prompt(id, text) {
      record('prompt', id, text)
      return client.onPrompt(id, text)
    },
    abort: (id) => {
      record('abort', id)
    },
    approve: (id, requestId, approved) => {
      record('approve', id, requestId, approved)
    },
    timeline(id) {
      record('timeline', id)
      return Promise.resolve([])
    },
    diff(id, commit) {
      record('diff', id, commit)
      return Promise.resolve([])
    },
    unsynced(id) {
      record('unsynced', id)
      return Promise.resolve(unsynced.get(id) ?? 0)
    },
    revert(id, target) {
      record('revert', id, target)
      return Promise.resolve({ commit: 'r1' })
    },
    planSync(id, options) {
      record('planSync', id, options)
      return Promise.resolve({ projectPath: '/p', items: [], conflicts: 0, risky: 0, text: '' })
    },
    applySync(id) {
      record('applySync', id)
      return Promise.resolve({ applied: 0, conflicts: [], journal: '', text: '' })
    },
    undoSync(id) {
      record('undoSync', id)
      return Promise.resolve({ restored: 0 })
    },
    allowHost(id, host, port) {
      record('allowHost', id, host, port)
      return Promise.resolve()
    },
  }
  return client
}
