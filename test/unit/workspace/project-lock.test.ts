import { mkdir, readdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { lockProject, projectStateDir } from '../../../src/workspace/project-lock.js'
import { tempDir } from './fixtures.js'

async function setUp() {
  const root = path.join(await tempDir('safe-coder-lock-'), 'projects')
  const projectDir = await tempDir('safe-coder-lock-project-')
  const lockDir = path.join(projectStateDir(root, projectDir), 'lock')
  const take = (holder: string, waitMs = 0, onWait?: (holder: string) => void) =>
    lockProject({ root, projectDir, holder, waitMs, ...(onWait ? { onWait } : {}) })
  return { root, projectDir, lockDir, take }
}

/** The pid of a process that has exited: what a crashed holder leaves in its owner file. */
async function deadPid(): Promise<number> {
  const child = execa(process.execPath, ['-e', ''])
  await child
  if (child.pid === undefined) throw new Error('no pid')
  return child.pid
}

describe('lockProject', () => {
  it('is held by one at a time: another is refused, naming the holder, until it is released', async () => {
    const { take } = await setUp()
    const first = await take('session s-a (sync)')
    const refused = await take('session s-b (sync)').catch((e: unknown) => e)
    expect(refused).toMatchObject({
      code: 'SYNC_CONFLICT',
      data: { busy: true, ownerPid: process.pid },
    })
    expect((refused as Error).message).toMatch(
      /is being synced by session s-a \(sync\) \(safe-coder process \d+, since /,
    )
    await first.release()
    await first.release()
    const second = await take('session s-b (sync)')
    expect(second.held).toBe(true)
    await second.release()
    expect(second.held).toBe(false)
  })

  it('lets waiters in one after another, each alone, telling each once that it waits', async () => {
    const { take } = await setUp()
    let inside = 0
    let most = 0
    const waits: string[] = []
    const order: number[] = []
    await Promise.all(
      Array.from({ length: 6 }, async (_, n) => {
        const lock = await take(`holder ${n}`, 60_000, (holder) => waits.push(holder))
        inside++
        most = Math.max(most, inside)
        order.push(n)
        // Something to interleave with: the others look at the lock meanwhile.
        await readdir(os.tmpdir())
        inside--
        await lock.release()
      }),
    )
    expect(most).toBe(1)
    expect(order.sort()).toEqual([0, 1, 2, 3, 4, 5])
    expect(waits.length).toBeGreaterThan(0)
    expect(waits.length).toBeLessThanOrEqual(5)
  })

  it('takes over the lock of a holder that died, and only one of many contenders wins it', async () => {
    const { lockDir, take } = await setUp()
    await mkdir(lockDir, { recursive: true })
    const pid = await deadPid()
    await writeFile(
      path.join(lockDir, 'owner.7'),
      JSON.stringify({ pid, host: os.hostname(), holder: 'session s-dead (sync)', since: 'then' }),
    )
    let inside = 0
    let most = 0
    await Promise.all(
      Array.from({ length: 5 }, async (_, n) => {
        const lock = await take(`contender ${n}`, 60_000)
        inside++
        most = Math.max(most, inside)
        await readdir(lockDir)
        inside--
        await lock.release()
      }),
    )
    expect(most).toBe(1)
    // Only the newest owner file stays: the dead one and the earlier winners were pruned.
    expect(await readdir(lockDir)).toEqual(['owner.12'])
  })

  it('treats a damaged owner file as released, and a holder on another host as alive', async () => {
    const { lockDir, take } = await setUp()
    await mkdir(lockDir, { recursive: true })
    await writeFile(path.join(lockDir, 'owner.1'), 'garbage')
    const lock = await take('after garbage')
    await lock.release()
    await writeFile(
      path.join(lockDir, 'owner.9'),
      JSON.stringify({ pid: 1, host: 'elsewhere.invalid', holder: 'session s-far (sync)' }),
    )
    const refused = await take('here').catch((e: unknown) => e)
    expect(refused).toMatchObject({
      code: 'SYNC_CONFLICT',
      data: { ownerHost: 'elsewhere.invalid' },
    })
    expect((refused as Error).message).toMatch(/process 1 on elsewhere\.invalid/)
  })

  it('stops waiting when its signal fires', async () => {
    const { root, projectDir, take } = await setUp()
    const held = await take('holder')
    const controller = new AbortController()
    const waiting = lockProject({
      root,
      projectDir,
      holder: 'waiter',
      waitMs: 60_000,
      signal: controller.signal,
      onWait: () => {
        controller.abort()
      },
    })
    await expect(waiting).rejects.toMatchObject({ code: 'ABORTED' })
    await held.release()
  })
})
