import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa, type ResultPromise } from 'execa'
import { describe, expect, it, onTestFinished } from 'vitest'
import {
  applySessionSync,
  planSessionSync,
  undoSessionSync,
} from '../../../src/session/session-sync.js'
import { formatSyncResult } from '../../../src/workspace/sync.js'
import { act, headState, newSession, projectState, syncOnce, syncWorld } from './sync-fixtures.js'

describe('repeated syncs of one session', () => {
  it('bring exactly HEAD each time: later edits, deletions and edits back to the copy arrive', async () => {
    const world = await syncWorld({ 'a.txt': 'a0\n', 'keep.txt': 'k\n', 'dir/d.txt': 'd0\n' })
    const id = await newSession(world)
    const steps: Record<string, string | null>[] = [
      { 'a.txt': 'a1\n', 'new.txt': 'n1\n', 'dir/e.txt': 'e1\n' },
      // Edits of files the first sync wrote: no conflict, the host has what that sync wrote.
      { 'a.txt': 'a2\n', 'new.txt': 'n2\n' },
      // Deletions of files a sync created, and an edit back to the copy-time content.
      { 'new.txt': null, 'dir/e.txt': null, 'a.txt': 'a0\n' },
      { 'dir/d.txt': null },
    ]
    for (const [index, edits] of steps.entries()) {
      await act(world, id, edits)
      const result = await syncOnce(world.ctx, id)
      expect(
        result.conflicts.map((c) => `${c.path}: ${c.reason}`),
        `sync ${index + 1}`,
      ).toEqual([])
      expect(await projectState(world.project), `the project after sync ${index + 1}`).toEqual(
        await headState(world, id),
      )
    }
  })

  it('goes back to the previous base after an undo, one sync at a time', async () => {
    const world = await syncWorld({ 'a.txt': 'a0\n' })
    const id = await newSession(world)
    const copied = await projectState(world.project)
    await act(world, id, { 'a.txt': 'a1\n', 'b.txt': 'b1\n' })
    await syncOnce(world.ctx, id)
    const afterFirst = await projectState(world.project)
    await act(world, id, { 'a.txt': 'a2\n', 'b.txt': null })
    await syncOnce(world.ctx, id)
    expect(await projectState(world.project)).toEqual(await headState(world, id))

    await undoSessionSync(world.ctx, id)
    expect(await projectState(world.project)).toEqual(afterFirst)
    // The base of a.txt and b.txt is what the first sync wrote again: no conflict, HEAD arrives.
    const again = await syncOnce(world.ctx, id)
    expect(again.conflicts).toEqual([])
    expect(await projectState(world.project)).toEqual(await headState(world, id))

    await undoSessionSync(world.ctx, id)
    await undoSessionSync(world.ctx, id)
    expect(await projectState(world.project)).toEqual(copied)
    await expect(undoSessionSync(world.ctx, id)).rejects.toMatchObject({ code: 'NOT_FOUND' })
    const plan = await planSessionSync(world.ctx, id)
    expect(plan.plan.items.map((i) => `${i.action} ${i.path}`)).toEqual(['modify a.txt'])
  })

  it('that apply nothing leave the undo stack alone and do not offer an undo', async () => {
    const world = await syncWorld({ 'a.txt': 'a0\n' })
    const id = await newSession(world)
    const copied = await projectState(world.project)
    await act(world, id, { 'a.txt': 'a1\n' })
    const first = await syncOnce(world.ctx, id)
    expect(first.id).toMatch(/^sync-/)
    const empty = await syncOnce(world.ctx, id)
    expect(empty.applied).toEqual([])
    expect(empty.id).toBeUndefined()
    const text = formatSyncResult(empty, world.project, id)
    expect(text).not.toMatch(/undo/)
    expect(text).toMatch(/nothing to apply/)
    const record = await world.store.read(id)
    expect(record.lastSync).toBe(first.id)

    const undone = await undoSessionSync(world.ctx, id)
    expect(undone.journal).toBe(first.id)
    expect(await projectState(world.project)).toEqual(copied)
  })
})

describe('a directory and a file swapped by the session', () => {
  it('a directory the session replaced with a file is synced, also with --force, and undone', async () => {
    const world = await syncWorld({ 'a.txt': 'a\n', 'thing/x.txt': 'x\n', 'thing/y/z.txt': 'z\n' })
    const id = await newSession(world)
    const copied = await projectState(world.project)
    await act(world, id, { thing: null })
    await act(world, id, { thing: 'now a file\n' })
    for (const force of [['thing'], undefined]) {
      const result = await syncOnce(world.ctx, id, force === undefined ? {} : { force })
      expect(result.conflicts.map((c) => `${c.path}: ${c.reason}`)).toEqual([])
      expect(await projectState(world.project)).toEqual(await headState(world, id))
      await undoSessionSync(world.ctx, id)
      expect(await projectState(world.project)).toEqual(copied)
    }
  })

  it('a file the session replaced with a directory syncs, the next sync finds nothing to do, undo restores it', async () => {
    const world = await syncWorld({ 'a.txt': 'a\n', thing: 'a file\n' })
    const id = await newSession(world)
    const copied = await projectState(world.project)
    await act(world, id, { thing: null })
    await act(world, id, { 'thing/x.txt': 'x\n', 'thing/deep/y.txt': 'y\n' })
    const first = await syncOnce(world.ctx, id)
    expect(first.conflicts).toEqual([])
    expect(await projectState(world.project)).toEqual(await headState(world, id))
    const plan = await planSessionSync(world.ctx, id)
    expect(plan.plan.items.filter((i) => i.action !== 'noop-same')).toEqual([])
    await act(world, id, { 'thing/x.txt': 'x2\n' })
    const second = await syncOnce(world.ctx, id)
    expect(second.conflicts).toEqual([])
    expect(await readFile(path.join(world.project, 'thing/x.txt'), 'utf8')).toBe('x2\n')
    await undoSessionSync(world.ctx, id)
    await undoSessionSync(world.ctx, id)
    expect(await projectState(world.project)).toEqual(copied)
  })

  it('a directory holding files the session does not know stays, as a conflict', async () => {
    const world = await syncWorld({ 'thing/x.txt': 'x\n' })
    const id = await newSession(world)
    await act(world, id, { thing: null })
    await act(world, id, { thing: 'now a file\n' })
    await writeUserFile(world.project, 'thing/user.txt')
    const result = await syncOnce(world.ctx, id, { force: ['thing'] })
    expect(result.conflicts.map((c) => c.path)).toEqual(['thing'])
    expect(result.conflicts[0]?.reason).toMatch(/thing\/user\.txt/)
    expect(await readFile(path.join(world.project, 'thing/user.txt'), 'utf8')).toBe('mine\n')
  })
})

async function writeUserFile(project: string, rel: string): Promise<void> {
  const { writeFile } = await import('node:fs/promises')
  await writeFile(path.join(project, rel), 'mine\n')
}

describe('two sessions of one project', () => {
  /** Session A changes a.txt and g.txt, session B changes g.txt and adds b.txt. */
  async function rivals() {
    const world = await syncWorld({ 'a.txt': 'a0\n', 'g.txt': 'g0\n' })
    const a = await newSession(world)
    const b = await newSession(world)
    await act(world, a, { 'a.txt': 'A\n', 'g.txt': 'A\n' })
    await act(world, b, { 'g.txt': 'B\n', 'b.txt': 'B\n' })
    return { world, a, b }
  }

  it('a sync started while another is writing is refused as busy and overwrites nothing', async () => {
    const { world, a, b } = await rivals()
    const planned = await planSessionSync(world.ctx, a)
    let inner: unknown = 'B was never started'
    await applySessionSync(
      {
        ...world.ctx,
        afterWrite: async (count) => {
          if (count === 1)
            inner = await syncOnce({ ...world.ctx, lockWaitMs: 0 }, b).catch((e: unknown) => e)
        },
      },
      planned,
      { confirmRisky: true },
    )
    expect(inner).toMatchObject({ code: 'SYNC_CONFLICT', data: { busy: true } })
    expect((inner as Error).message).toMatch(new RegExp(`being synced by session ${a}`))
    expect(await readFile(path.join(world.project, 'g.txt'), 'utf8')).toBe('A\n')
    // B's turn: g.txt changed on the host since B's copy, so it is a conflict; b.txt arrives.
    const later = await syncOnce(world.ctx, b)
    expect(later.conflicts.map((c) => c.path)).toEqual(['g.txt'])
    expect(await readFile(path.join(world.project, 'b.txt'), 'utf8')).toBe('B\n')
    expect(await readFile(path.join(world.project, 'g.txt'), 'utf8')).toBe('A\n')
  })

  it('a sync that finds the project busy waits for it, then plans against what it left', async () => {
    const { world, a, b } = await rivals()
    let resume: () => void = () => undefined
    const paused = new Promise<void>((resolve) => (resume = resolve))
    let writing: () => void = () => undefined
    const aWriting = new Promise<void>((resolve) => (writing = resolve))
    const planned = await planSessionSync(world.ctx, a)
    const syncA = applySessionSync(
      {
        ...world.ctx,
        afterWrite: (count) => {
          if (count !== 1) return undefined
          writing()
          return paused
        },
      },
      planned,
      { confirmRisky: true },
    )
    await aWriting
    let waited: () => void = () => undefined
    const bWaits = new Promise<void>((resolve) => (waited = resolve))
    const holders: string[] = []
    const syncB = syncOnce(
      {
        ...world.ctx,
        lockWaitMs: 60_000,
        onLockWait: (holder) => {
          holders.push(holder)
          waited()
        },
      },
      b,
    )
    await Promise.race([
      bWaits,
      syncB.then(() => {
        throw new Error('B finished without waiting for A')
      }),
    ])
    expect(holders).toEqual([expect.stringContaining(`session ${a}`)])
    resume()
    await syncA
    const result = await syncB
    expect(result.conflicts.map((c) => c.path)).toEqual(['g.txt'])
    expect(await readFile(path.join(world.project, 'g.txt'), 'utf8')).toBe('A\n')
    expect(await readFile(path.join(world.project, 'b.txt'), 'utf8')).toBe('B\n')
  })
})

describe('a sync in another process', () => {
  it('holds the project while it runs, and once killed half-way the next sync rolls it back', async () => {
    const world = await syncWorld({ 'a.txt': 'a0\n', 'g.txt': 'g0\n' })
    const a = await newSession(world)
    const b = await newSession(world)
    await act(world, a, { 'a.txt': 'A\n', 'g.txt': 'A\n' })
    await act(world, b, { 'g.txt': 'B\n', 'b.txt': 'B\n' })
    const child = execa(
      process.execPath,
      ['--import', 'tsx', childScript, world.store.stateDir, a],
      { reject: false },
    )
    onTestFinished(() => {
      child.kill('SIGKILL')
    })
    await firstLine(child, 'wrote')
    expect(await readFile(path.join(world.project, 'a.txt'), 'utf8')).toBe('A\n')

    const busy = await syncOnce({ ...world.ctx, lockWaitMs: 0 }, b).catch((e: unknown) => e)
    expect(busy).toMatchObject({
      code: 'SYNC_CONFLICT',
      data: { busy: true, ownerPid: child.pid },
    })
    child.kill('SIGKILL')
    await child

    const recovered: string[] = []
    const result = await syncOnce(
      { ...world.ctx, onRecovered: (sync) => recovered.push(sync.sessionId ?? '?') },
      b,
    )
    expect(recovered).toEqual([a])
    expect(result.conflicts).toEqual([])
    expect(await readFile(path.join(world.project, 'a.txt'), 'utf8')).toBe('a0\n')
    expect(await readFile(path.join(world.project, 'g.txt'), 'utf8')).toBe('B\n')
    // A's killed sync is not on its undo stack: A plans against the copy again.
    const again = await syncOnce(world.ctx, a)
    expect(again.conflicts.map((c) => c.path)).toEqual(['g.txt'])
    expect(await readFile(path.join(world.project, 'a.txt'), 'utf8')).toBe('A\n')
  }, 30_000)
})

const childScript = fileURLToPath(new URL('sync-child.ts', import.meta.url))

/** Resolves when the child prints `text` on a line of its own; rejects if it exits first. */
function firstLine(child: ResultPromise, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString()
      if (seen.split('\n').includes(text)) resolve()
    })
    void child.then((r) => {
      reject(new Error(`the sync process exited (${r.exitCode}) first: ${String(r.stderr)}`))
    })
  })
}
