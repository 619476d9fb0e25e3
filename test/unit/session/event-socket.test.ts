import { createServer } from 'node:net'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createBus, type Envelope } from '../../../src/bus/bus.js'
import type { EventMap } from '../../../src/bus/events.js'
import { serveSessionEvents } from '../../../src/session/event-server.js'
import { monitorSessions, type RemoteSession } from '../../../src/session/monitor.js'
import { SessionStore } from '../../../src/session/store.js'

// Unix socket paths must stay short: a temp dir directly under /tmp.
async function shortStore(): Promise<SessionStore> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sc-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return new SessionStore(dir)
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('session event sockets', () => {
  it("forward another process's session events, replaying recent ones, and carry an abort back", async () => {
    const store = await shortStore()
    const record = await store.create('/tmp/project', 'docker')
    const owner = createBus<EventMap>()
    let aborted = 0
    owner.emit('session.status', { sessionId: record.id, status: 'busy' })
    const server = await serveSessionEvents({
      socketPath: store.paths(record.id).eventsSocket,
      bus: owner,
      session: {
        id: record.id,
        projectPath: '/tmp/project',
        backend: 'docker',
        origin: 'remote',
        ownerPid: 4242,
      },
      onAbort: () => aborted++,
    })
    expect(server).toBeDefined()
    onTestFinished(() => server?.close())
    // Emitted before anyone watched: replayed to the dashboard when it connects.
    owner.emit('exec.started', {
      sessionId: record.id,
      execId: 'e1',
      command: 'npm test',
      cwd: '/workspace',
      at: 1,
    })
    owner.emit('exec.started', {
      sessionId: 'someone-else',
      execId: 'x',
      command: 'no',
      cwd: '/',
      at: 1,
    })

    const watcher = createBus<EventMap>()
    const seen: Envelope<EventMap>[] = []
    watcher.onAny((e) => seen.push(e))
    const found: RemoteSession[] = []
    const stop = new AbortController()
    onTestFinished(() => {
      stop.abort()
    })
    monitorSessions({
      store,
      bus: watcher,
      isLocal: () => false,
      onFound: (r) => found.push(r),
      onLost: () => undefined,
      signal: stop.signal,
      intervalMs: 50,
    })
    await until(() => found.length === 1 && seen.some((e) => e.name === 'exec.started'))
    expect(found[0]?.summary).toEqual({
      id: record.id,
      projectPath: '/tmp/project',
      backend: 'docker',
      origin: 'remote',
      ownerPid: 4242,
    })
    owner.emit('exec.output', {
      sessionId: record.id,
      execId: 'e1',
      stream: 'stdout',
      text: 'ok\n',
    })
    await until(() => seen.some((e) => e.name === 'exec.output'))
    expect(seen.filter((e) => e.name === 'exec.started')).toHaveLength(1)
    found[0]?.abort()
    await until(() => aborted === 1)
    await server?.close()
    await until(() =>
      seen.some((e) => e.name === 'session.status' && e.payload.sessionId === record.id),
    )
  })

  it('serves a session whose folder path is too long for a unix socket, through a pointer', async () => {
    const base = await mkdtemp(path.join(os.tmpdir(), 'sc-'))
    onTestFinished(() => rm(base, { recursive: true, force: true }))
    const store = new SessionStore(path.join(base, 'a-rather-long-state-directory-name'.repeat(3)))
    const record = await store.create('/tmp/project', 'docker')
    expect(Buffer.byteLength(store.paths(record.id).eventsSocket)).toBeGreaterThan(108)
    const owner = createBus<EventMap>()
    const server = await serveSessionEvents({
      socketPath: store.paths(record.id).eventsSocket,
      bus: owner,
      session: {
        id: record.id,
        projectPath: '/p',
        backend: 'docker',
        origin: 'remote',
        ownerPid: 1,
      },
      onAbort: () => undefined,
    })
    onTestFinished(() => server?.close())
    expect(server?.socketPath).toMatch(new RegExp(`safe-coder-\\d+/${record.id}\\.sock$`))
    const found: RemoteSession[] = []
    const stop = new AbortController()
    onTestFinished(() => {
      stop.abort()
    })
    monitorSessions({
      store,
      bus: createBus<EventMap>(),
      isLocal: () => false,
      onFound: (r) => found.push(r),
      onLost: () => undefined,
      signal: stop.signal,
      intervalMs: 50,
    })
    await until(() => found.length === 1)
    await server?.close()
    await expect(stat(`${store.paths(record.id).eventsSocket}.path`)).rejects.toThrow()
  })

  it('drops a connection that speaks anything but the protocol', async () => {
    const store = await shortStore()
    const record = await store.create('/tmp/project', 'docker')
    const fake = createServer((socket) => {
      socket.write('{"type":"hello","version":1,"session":{"id":"s-other","projectPath":"/"}}\n')
    })
    await new Promise<void>((r) => fake.listen(store.paths(record.id).eventsSocket, r))
    onTestFinished(
      () =>
        new Promise<void>((r) =>
          fake.close(() => {
            r()
          }),
        ),
    )
    const found: RemoteSession[] = []
    const stop = new AbortController()
    onTestFinished(() => {
      stop.abort()
    })
    let closed = false
    fake.on('connection', (socket) => socket.on('close', () => (closed = true)))
    monitorSessions({
      store,
      bus: createBus<EventMap>(),
      isLocal: () => false,
      onFound: (r) => found.push(r),
      onLost: () => undefined,
      signal: stop.signal,
      intervalMs: 50,
    })
    await until(() => closed)
    expect(found).toEqual([])
  })
})
