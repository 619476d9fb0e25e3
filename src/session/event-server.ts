import { connect, createServer, type Server, type Socket } from 'node:net'
import { access, lstat, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
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
/** The replay also stops at this many bytes: a flood of output must not fill the heap. */
const REPLAY_BYTES = 4 * 1024 * 1024
/** A watcher this far behind is dropped (it reconnects and gets the replay) rather than buffered. */
const MAX_CLIENT_BACKLOG = 16 * 1024 * 1024

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
 * only the same user connects. When the folder's path is too long for a unix socket, the socket
 * goes to a private folder of this user under the temp dir and `events.sock.path` in the
 * session's folder says where (the monitor follows it).
 */
export async function serveSessionEvents(options: {
  socketPath: string
  bus: Bus<EventMap>
  session: SessionSummary
  onAbort: () => void
}): Promise<EventServer | undefined> {
  const { bus, session } = options
  const pointer = `${options.socketPath}.path`
  const socketPath =
    Buffer.byteLength(options.socketPath) > MAX_SOCKET_PATH
      ? await shortSocketPath(session.id)
      : options.socketPath
  await removeStaleSocket(socketPath)
  const clients = new Set<Socket>()
  const recent: string[] = []
  let recentBytes = 0
  const send = (line: string): void => {
    for (const socket of clients) {
      if (socket.destroyed) continue
      if (socket.writableLength > MAX_CLIENT_BACKLOG) socket.destroy()
      else socket.write(line)
    }
  }
  const subscription = bus.onAny(
    (envelope: Envelope<EventMap>) => {
      if ((envelope.payload as { sessionId?: string }).sessionId !== session.id) return
      const line = `${JSON.stringify({ type: 'event', name: envelope.name, payload: envelope.payload } satisfies ServerLine)}\n`
      recent.push(line)
      recentBytes += line.length
      while (recent.length > REPLAY || (recentBytes > REPLAY_BYTES && recent.length > 1)) {
        recentBytes -= recent.shift()?.length ?? 0
      }
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
  if (socketPath !== options.socketPath) await writeFile(pointer, socketPath, { mode: 0o600 })
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
      if (socketPath !== options.socketPath) await rm(pointer, { force: true })
    },
  }
}

/**
 * `<tmp>/safe-coder-<uid>/<session>.sock`, in a folder that must be ours, private and not a
 * link: anyone else's folder there could collect another user's events.
 */
async function shortSocketPath(sessionId: string): Promise<string> {
  const uid = process.getuid?.() ?? 0
  const dir = path.join(os.tmpdir(), `safe-coder-${uid}`)
  await mkdir(dir, { mode: 0o700 }).catch((error: unknown) => {
    if (errnoOf(error) !== 'EEXIST') throw error
  })
  const info = await lstat(dir)
  if (!info.isDirectory() || info.uid !== uid || (info.mode & 0o077) !== 0) {
    throw new Error(`${dir} is not a private folder of this user`)
  }
  return path.join(dir, `${sessionId}.sock`)
}

/** Where a session's events are served: its folder, or the place its pointer file names. */
export async function servedSocketPath(socketPath: string): Promise<string | undefined> {
  try {
    await access(socketPath)
    return socketPath
  } catch {
    try {
      const target = (await readFile(`${socketPath}.path`, 'utf8')).trim()
      return target === '' ? undefined : target
    } catch {
      return undefined
    }
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
