import { readFile, writeFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { acquireSessionLock } from '../../../src/session/lock.js'
import { SessionStore } from '../../../src/session/store.js'
import { isSafeCoderError } from '../../../src/shared/errors.js'
import { tempDir } from '../../helpers/sandbox.js'

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  )
}

describe('SessionStore', () => {
  it('creates, reads, updates and lists sessions newest first', async () => {
    const store = new SessionStore(await tempDir())
    const first = await store.create('/p/one', 'docker')
    await new Promise((r) => setTimeout(r, 5))
    const second = await store.create('/p/two', 'docker')
    expect(first.status).toBe('active')
    const updated = await store.update(first.id, () => ({ status: 'stopped', commits: 3 }))
    expect(updated).toMatchObject({ status: 'stopped', commits: 3, projectPath: '/p/one' })
    expect(await store.read(first.id)).toEqual(updated)
    const { sessions, damaged } = await store.list()
    expect(sessions.map((s) => s.id)).toEqual([second.id, first.id])
    expect(damaged).toEqual([])
  })

  it('reports a damaged session.json instead of hiding the session', async () => {
    const store = new SessionStore(await tempDir())
    const session = await store.create('/p', 'docker')
    await writeFile(store.paths(session.id).sessionFile, '{"version":1,"id":')
    const { sessions, damaged } = await store.list()
    expect(sessions).toEqual([])
    expect(damaged[0]?.id).toBe(session.id)
    expect(damaged[0]?.message).toMatch(/damaged/)
  })

  it('refuses ids that are not session ids and says NOT_FOUND for unknown ones', async () => {
    const store = new SessionStore(await tempDir())
    for (const id of ['../../etc', '/abs', 's-x/../y', '']) {
      expect(isSafeCoderError(await rejection(store.read(id)), 'USAGE')).toBe(true)
    }
    expect(isSafeCoderError(await rejection(store.read('s-abc-0123abcd')), 'NOT_FOUND')).toBe(true)
  })

  it('appends events as JSON lines', async () => {
    const store = new SessionStore(await tempDir())
    const session = await store.create('/p', 'docker')
    await store.appendEvent(session.id, { type: 'exec', command: 'ls' })
    await store.appendEvent(session.id, { type: 'commit', commit: 'abc' })
    const lines = (await readFile(store.paths(session.id).eventsFile, 'utf8')).trim().split('\n')
    expect(lines.map((l) => (JSON.parse(l) as { type: string }).type)).toEqual(['exec', 'commit'])
  })
})

describe('acquireSessionLock', () => {
  it('lets one command in at a time and names the holder', async () => {
    const dir = await tempDir()
    const lock = await acquireSessionLock(`${dir}/lock`, 's-1')
    const error = await rejection(acquireSessionLock(`${dir}/lock`, 's-1'))
    expect(isSafeCoderError(error, 'USAGE')).toBe(true)
    expect((error as Error).message).toMatch(new RegExp(`busy: safe-coder process ${process.pid}`))
    await lock.release()
    await lock.release()
    const again = await acquireSessionLock(`${dir}/lock`, 's-1')
    await again.release()
  })

  it('takes over a stale lock whose owner died', async () => {
    const dir = await tempDir()
    const { execa } = await import('execa')
    const child = execa('true')
    const deadPid = child.pid ?? 0
    await child
    const os = await import('node:os')
    await writeFile(`${dir}/lock`, JSON.stringify({ pid: deadPid, host: os.hostname() }))
    const lock = await acquireSessionLock(`${dir}/lock`, 's-1')
    expect(JSON.parse(await readFile(`${dir}/lock`, 'utf8'))).toMatchObject({ pid: process.pid })
    await lock.release()
  })
})
