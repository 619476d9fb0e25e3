import { chmod, lstat, mkdir, symlink, unlink, utimes, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { commitChanges, snapshot } from '../../../src/git/index.js'
import {
  STAT_FAILED,
  STAT_FIELDS,
  STAT_MISSING,
  statHelperAnswered,
  statHelperReady,
  statOnHelper,
} from '../../../src/git/stat-helper.js'
import { createRepo, git } from './fixtures.js'

async function helperRunning(): Promise<void> {
  for (let i = 0; i < 200 && !statHelperReady(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  expect(statHelperReady()).toBe(true)
}

describe('the stat helper thread', () => {
  it("answers each path's stat key, and says which are missing or failed", async () => {
    const { repo } = await createRepo()
    await writeFile(path.join(repo.workDir, 'a.txt'), 'hello')
    await helperRunning()
    const prefix = `${repo.workDir}/`
    const out = await statOnHelper(prefix, ['a.txt', 'gone.txt', 'a.txt/below'])
    expect(out.length).toBe(3 * STAT_FIELDS)
    const real = await lstat(path.join(repo.workDir, 'a.txt'))
    expect([...out.subarray(0, STAT_FIELDS)]).toEqual([
      real.mode,
      5,
      real.mtimeMs,
      real.ctimeMs,
      real.ino,
    ])
    expect(out[STAT_FIELDS]).toBe(STAT_MISSING)
    // ENOTDIR: the main thread will stat it again and decide.
    expect(out[2 * STAT_FIELDS]).toBe(STAT_FAILED)
  })

  it('shares a scan of a large mirror and still finds every kind of change', async () => {
    const { repo } = await createRepo()
    const count = 2500
    const names = Array.from({ length: count }, (_, i) => `src/f-${i}.ts`)
    await mkdir(path.join(repo.workDir, 'src'))
    for (let i = 0; i < count; i += 100) {
      await Promise.all(
        names.slice(i, i + 100).map((rel) => writeFile(path.join(repo.workDir, rel), rel)),
      )
    }
    // Hashed long after they were written: not racily clean, so the cache alone decides.
    const old = new Date(Date.now() - 3_600_000)
    for (const rel of names) await utimes(path.join(repo.workDir, rel), old, old)
    await snapshot(repo, { message: 'snapshot' })
    await helperRunning()
    const before = statHelperAnswered()

    const at = (i: number): string => path.join(repo.workDir, names[i] as string)
    await writeFile(at(10), 'changed content')
    await unlink(at(1300))
    await chmod(at(2000), 0o755)
    await unlink(at(2400))
    await symlink('f-0.ts', at(2400))
    // Same size and mtime as before: only the ctime tells.
    await writeFile(at(2200), names[2200]?.replace('f', 'g') ?? '')
    await utimes(at(2200), old, old)
    await writeFile(path.join(repo.workDir, 'src/new.ts'), 'new')

    const result = await commitChanges(repo, { message: 'bash', scan: true })
    expect(statHelperAnswered() - before).toBeGreaterThan(1000)
    expect(result?.changed).toEqual([
      { path: 'src/f-10.ts', status: 'modified' },
      { path: 'src/f-1300.ts', status: 'deleted' },
      { path: 'src/f-2000.ts', status: 'modified' },
      { path: 'src/f-2200.ts', status: 'modified' },
      { path: 'src/f-2400.ts', status: 'typechange' },
      { path: 'src/new.ts', status: 'added' },
    ])
    git(repo, 'fsck', '--strict', '--no-dangling')
    expect(git(repo, 'cat-file', 'blob', 'HEAD:src/f-2200.ts')).toBe('src/g-2200.ts')

    // Nothing changed: nothing committed, and only just-written (racily clean) files reread.
    const written = new Set(result?.changed.map((c) => c.path))
    const reread: string[] = []
    const again = await commitChanges(repo, {
      message: 'bash',
      scan: true,
      onRead: (rel) => reread.push(rel),
    })
    expect(again).toBeUndefined()
    expect(reread.filter((rel) => !written.has(rel))).toEqual([])
  })
})
