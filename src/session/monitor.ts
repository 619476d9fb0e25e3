import { mkdirSync, watch, type FSWatcher } from 'node:fs'
import { connect, type Socket } from 'node:net'
import type { Bus } from '../bus/bus.js'
import type { EventMap, EventName } from '../bus/events.js'
import { sleep } from '../shared/abort.js'
import type { SessionSummary } from './client.js'
import { EVENTS_PROTOCOL, servedSocketPath } from './event-server.js'
import { isSessionId, sessionsDir } from './paths.js'
import type { SessionStore } from './store.js'

/** A line from another process is hostile input: capped, parsed defensively, never trusted. */
const MAX_LINE = 1024 * 1024

/** How often a session found starting is checked for its event socket. */
const fastMs = 100
/** How long a session folder may exist before its record says it is active. */
const recordGraceMs = 10_000

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
  // Active sessions of other processes whose event socket is not up yet (copy-in, sandbox
  // start): checked every `fastMs` rather than on the next full scan, so a short run is not over
  // before the dashboard looks again.
  // Each with when it was first seen: a folder the watch reported may not hold its record yet.
  const pending = new Map<string, number>()
  /** Sessions whose hello showed this process as their owner: never watched as remote. */
  const own = new Set<string>()
  const tryConnect = async (id: string): Promise<boolean> => {
    if (options.isLocal(id) || own.has(id)) return false
    const socketPath = await servedSocketPath(options.store.paths(id).eventsSocket)
    if (socketPath === undefined || connected.has(id) || options.signal.aborted) return false
    const socket = connect(socketPath)
    connected.set(id, socket)
    attach(
      socket,
      id,
      options,
      () => {
        connected.delete(id)
      },
      () => {
        own.add(id)
        pending.delete(id)
      },
    )
    return true
  }
  const scan = async (): Promise<void> => {
    const { sessions } = await options.store.list()
    const active = new Set<string>()
    for (const record of sessions) {
      if (
        record.status !== 'active' ||
        connected.has(record.id) ||
        options.isLocal(record.id) ||
        own.has(record.id)
      ) {
        continue
      }
      active.add(record.id)
      if (!(await tryConnect(record.id))) {
        if (!pending.has(record.id)) pending.set(record.id, Date.now())
      } else pending.delete(record.id)
    }
    const now = Date.now()
    for (const [id, since] of pending) {
      if (!active.has(id) && now - since > recordGraceMs) pending.delete(id)
    }
  }
  let wake: (() => void) | undefined
  // A new session folder wakes the scan at once (inotify); the poll covers what a watch misses.
  let watcher: FSWatcher | undefined
  try {
    // A fresh state directory has no sessions folder until the first session: make it to watch it.
    const dir = sessionsDir(options.store.stateDir)
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    watcher = watch(dir, (_event, name) => {
      // The new folder's name is the session's id: watch for its socket from now on.
      if (name !== null && isSessionId(name) && !connected.has(name) && !options.isLocal(name)) {
        if (!pending.has(name)) pending.set(name, Date.now())
      }
      wake?.()
    })
    watcher.on('error', () => watcher?.close())
  } catch {
    // No sessions folder yet, or no inotify: the poll alone finds them.
  }
  const live = (): boolean => !options.signal.aborted
  void (async () => {
    while (live()) {
      await scan().catch(() => undefined)
      const until = Date.now() + (options.intervalMs ?? 2000)
      while (live() && Date.now() < until) {
        const woken = new Promise<boolean>((resolve) => {
          wake = () => {
            resolve(true)
          }
          const timeUp = (): void => {
            resolve(false)
          }
          void sleep(pending.size > 0 ? fastMs : until - Date.now(), options.signal).then(
            timeUp,
            timeUp,
          )
        })
        if (await woken) break
        for (const id of [...pending.keys()]) {
          if (await tryConnect(id).catch(() => false)) pending.delete(id)
        }
      }
    }
    watcher?.close()
    for (const socket of connected.values()) socket.destroy()
  })()
}

function attach(
  socket: Socket,
  expectedId: string,
  options: Parameters<typeof monitorSessions>[0],
  onClose: () => void,
  onOwn: () => void,
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
      // This process's own session, caught between serving its socket and being listed local.
      if (session.ownerPid === process.pid) {
        onOwn()
        return false
      }
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
