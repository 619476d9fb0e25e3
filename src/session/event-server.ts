import { connect, createServer, type Server, type Socket } from 'node:net'
import { rm } from 'node:fs/promises'
import type { Bus, Envelope } from '../bus/bus.js'
import type { EventMap } from '../bus/events.js'
import { errnoOf } from '../shared/errors.js'
import type { SessionSummary } from './client.js'

/** Version of the JSON-lines protocol between a session process and a monitoring dashboard. */
export const EVENTS_PROTOCOL = 1
/** Unix socket paths longer than this do not fit `sun_path` on Linux and macOS. */
const MAX_SOCKET_PATH = 100
/** Events a newly connected dashboard receives first, so it sees the session's recent past. */
const REPLAY = 2000

/** Lines a session process writes: a hello, then its bus events. */
export type ServerLine =
  | { type: 'hello'; version: number; session: SessionSummary }
  | { type: 'event'; name: string; payload: unknown }

/** Lines a dashboard may send: only what is safe from outside. */
export type ClientLine = { type: 'abort' }

export interface EventServer {
  readonly socketPath: string
  close(): Promise<void>
}

/**
 * Serves one session's bus events as JSON lines on a unix socket in its folder, so a dashboard
 * in another process can monitor it (DESIGN.md §7). The socket is mode 0600 in a 0700 folder:
 * only the same user connects. Returns undefined when the path is too long for a unix socket.
 */
export async function serveSessionEvents(options: {
  socketPath: string
  bus: Bus<EventMap>
  session: SessionSummary
  onAbort: () => void
}): Promise<EventServer | undefined> {
  const { socketPath, bus, session } = options
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) return undefined
  await removeStaleSocket(socketPath)
  const clients = new Set<Socket>()
  const recent: string[] = []
  const send = (line: string): void => {
    for (const socket of clients) if (!socket.destroyed) socket.write(line)
  }
  const subscription = bus.onAny(
    (envelope: Envelope<EventMap>) => {
      if ((envelope.payload as { sessionId?: string }).sessionId !== session.id) return
      const line = `${JSON.stringify({ type: 'event', name: envelope.name, payload: envelope.payload } satisfies ServerLine)}\n`
      recent.push(line)
      if (recent.length > REPLAY) recent.shift()
      send(line)
    },
    { replay: false },
  )
  const server: Server = createServer((socket) => {
    clients.add(socket)
    socket.on('close', () => clients.delete(socket))
    socket.on('error', () => socket.destroy())
    socket.write(
      `${JSON.stringify({ type: 'hello', version: EVENTS_PROTOCOL, session } satisfies ServerLine)}\n`,
    )
    for (const line of recent) socket.write(line)
    let buffered = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      buffered += chunk
      if (buffered.length > 4096) {
        socket.destroy()
        return
      }
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        if (line.trim() === '{"type":"abort"}') options.onAbort()
      }
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ path: socketPath, readableAll: false, writableAll: false }, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return {
    socketPath,
    async close() {
      subscription.dispose()
      for (const socket of clients) socket.destroy()
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve()
        }),
      )
      await rm(socketPath, { force: true })
    },
  }
}

/** A socket file nobody listens on (its process was killed) is removed; a live one is an error. */
async function removeStaleSocket(socketPath: string): Promise<void> {
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect(socketPath)
    probe.once('connect', () => {
      probe.destroy()
      resolve(true)
    })
    probe.once('error', (error) => {
      resolve(errnoOf(error) !== 'ECONNREFUSED' && errnoOf(error) !== 'ENOENT')
    })
  })
  if (!alive) await rm(socketPath, { force: true })
}
