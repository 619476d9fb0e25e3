import { connect, type Socket } from 'node:net'
import type { Bus } from '../bus/bus.js'
import type { EventMap, EventName } from '../bus/events.js'
import { sleep } from '../shared/abort.js'
import type { SessionSummary } from './client.js'
import { EVENTS_PROTOCOL, servedSocketPath } from './event-server.js'
import type { SessionStore } from './store.js'

/** A line from another process is hostile input: capped, parsed defensively, never trusted. */
const MAX_LINE = 1024 * 1024

/** The events a dashboard needs from another process. */
const forwarded = new Set<string>([
  'session.created',
  'session.status',
  'sandbox.state',
  'sandbox.stats',
  'exec.started',
  'exec.output',
  'exec.finished',
  'turn.started',
  'turn.finished',
  'agent.text',
  'agent.step',
  'agent.retry',
  'agent.compacted',
  'tool.started',
  'tool.finished',
  'git.committed',
  'approval.requested',
  'approval.resolved',
  'error',
] satisfies EventName[])

export interface RemoteSession {
  summary: SessionSummary
  abort(): void
}

/**
 * Finds sessions other Safe Coder processes are running (their event sockets in the state dir)
 * and forwards their events onto this process's bus, so the dashboard shows them beside its
 * own. Polls for new sockets every `intervalMs` until the signal fires.
 */
export function monitorSessions(options: {
  store: SessionStore
  bus: Bus<EventMap>
  /** Sessions this process runs itself. */
  isLocal: (id: string) => boolean
  onFound: (remote: RemoteSession) => void
  onLost: (id: string) => void
  signal: AbortSignal
  intervalMs?: number
}): void {
  const connected = new Map<string, Socket>()
  const scan = async (): Promise<void> => {
    const { sessions } = await options.store.list()
    for (const record of sessions) {
      if (record.status !== 'active' || connected.has(record.id) || options.isLocal(record.id)) {
        continue
      }
      const socketPath = await servedSocketPath(options.store.paths(record.id).eventsSocket)
      if (socketPath === undefined) continue
      const socket = connect(socketPath)
      connected.set(record.id, socket)
      attach(socket, record.id, options, () => {
        connected.delete(record.id)
      })
    }
  }
  void (async () => {
    while (!options.signal.aborted) {
      await scan().catch(() => undefined)
      await sleep(options.intervalMs ?? 2000, options.signal).catch(() => undefined)
    }
    for (const socket of connected.values()) socket.destroy()
  })()
}

function attach(
  socket: Socket,
  expectedId: string,
  options: Parameters<typeof monitorSessions>[0],
  onClose: () => void,
): void {
  let buffered = ''
  let hello: SessionSummary | undefined
  socket.setEncoding('utf8')
  socket.on('error', () => socket.destroy())
  socket.on('close', () => {
    onClose()
    if (hello !== undefined) {
      options.bus.emit('session.status', { sessionId: hello.id, status: 'stopped' })
      options.onLost(hello.id)
    }
  })
  socket.on('data', (chunk: string) => {
    buffered += chunk
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      if (!handleLine(line)) {
        socket.destroy()
        return
      }
    }
    if (buffered.length > MAX_LINE) socket.destroy()
  })

  function handleLine(line: string): boolean {
    let message: unknown
    try {
      message = JSON.parse(line)
    } catch {
      return false
    }
    if (!isObject(message)) return false
    if (hello === undefined) {
      const session = message.session
      if (message.type !== 'hello' || message.version !== EVENTS_PROTOCOL || !isObject(session)) {
        return false
      }
      if (session.id !== expectedId || typeof session.projectPath !== 'string') return false
      hello = {
        id: expectedId,
        projectPath: session.projectPath,
        backend: typeof session.backend === 'string' ? session.backend : 'unknown',
        origin: 'remote',
        ownerPid: typeof session.ownerPid === 'number' ? session.ownerPid : 0,
      }
      options.onFound({
        summary: hello,
        abort: () => socket.write('{"type":"abort"}\n'),
      })
      return true
    }
    const payload = message.payload
    if (message.type !== 'event' || typeof message.name !== 'string' || !isObject(payload)) {
      return false
    }
    // Only this session's events, and only names this version knows.
    if (payload.sessionId !== expectedId) return false
    if (!forwarded.has(message.name)) return true
    options.bus.emit(message.name as EventName, payload as never)
    return true
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
