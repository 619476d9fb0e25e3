import { chmod, mkdir, rm, symlink, writeFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openRoot } from '../../../src/guest/paths.js'
import { Tree } from '../../../src/guest/tree.js'
import { tempDir } from '../../helpers/sandbox.js'

const sha = (text: string): string => createHash('sha256').update(text).digest('hex')

describe('guest workspace manifest (mark / changes)', () => {
  it('reports added, modified, chmod-ed, linked and deleted paths, then re-marks', async () => {
    const dir = await tempDir('safe-coder-tree-')
    await mkdir(path.join(dir, 'src/old'), { recursive: true })
    await writeFile(path.join(dir, 'src/a.ts'), 'a')
    await writeFile(path.join(dir, 'src/old/gone.ts'), 'gone')
    await writeFile(path.join(dir, 'run.sh'), 'echo')
    await mkdir(path.join(dir, 'lost+found'))
    const tree = new Tree(openRoot(dir))
    expect(await tree.mark()).toEqual({ files: 5 })

    await writeFile(path.join(dir, 'src/a.ts'), 'changed')
    await writeFile(path.join(dir, 'src/b.ts'), 'new')
    await chmod(path.join(dir, 'run.sh'), 0o755)
    await rm(path.join(dir, 'src/old'), { recursive: true })
    await mkdir(path.join(dir, 'empty'), { mode: 0o750 })
    await symlink('src/b.ts', path.join(dir, 'link'))
    await writeFile(path.join(dir, 'new\nline.txt'), 'nl')

    const first = await tree.changes(1024)
    expect(first.skipped).toEqual([])
    expect(first.changes).toEqual([
      { path: 'empty', kind: 'dir', mode: 0o750 },
      { path: 'link', kind: 'symlink', target: 'src/b.ts' },
      { path: 'new\nline.txt', kind: 'file', mode: 0o644, size: 2, sha256: sha('nl') },
      { path: 'run.sh', kind: 'file', mode: 0o755, size: 4, sha256: sha('echo') },
      { path: 'src/a.ts', kind: 'file', mode: 0o644, size: 7, sha256: sha('changed') },
      { path: 'src/b.ts', kind: 'file', mode: 0o644, size: 3, sha256: sha('new') },
      { path: 'src/old', kind: 'deleted' },
      { path: 'src/old/gone.ts', kind: 'deleted' },
    ])
    // Re-marked: nothing new.
    expect((await tree.changes(1024)).changes).toEqual([])
  })

  it('skips names that are not UTF-8, special files and files over the limit', async () => {
    const dir = await tempDir('safe-coder-tree-')
    const tree = new Tree(openRoot(dir))
    await tree.mark()
    await writeFile(Buffer.from(`${dir}/bad-\xff-name`, 'latin1'), 'x')
    await mkdir(Buffer.from(`${dir}/bad-\xfe-dir`, 'latin1'))
    await writeFile(Buffer.from(`${dir}/bad-\xfe-dir/inner`, 'latin1'), 'x')
    await writeFile(path.join(dir, 'big.bin'), Buffer.alloc(2048))
    const set = await tree.changes(1024)
    expect(set.changes).toEqual([])
    expect(set.skipped).toEqual([
      { path: 'bad-\\xfe-dir', reason: 'the name is not valid UTF-8' },
      { path: 'bad-\\xff-name', reason: 'the name is not valid UTF-8' },
      { path: 'big.bin', reason: 'larger than 1024 bytes' },
    ])
  })

  it('handles 10k files in reasonable time', async () => {
    const dir = await tempDir('safe-coder-tree-')
    for (let d = 0; d < 100; d++) {
      await mkdir(path.join(dir, `d${d}`))
      await Promise.all(
        Array.from({ length: 100 }, (_, f) =>
          writeFile(path.join(dir, `d${d}/f${f}.txt`), `${d}/${f}`),
        ),
      )
    }
    const tree = new Tree(openRoot(dir))
    let started = performance.now()
    expect((await tree.mark()).files).toBe(10_100)
    const markMs = performance.now() - started
    started = performance.now()
    expect((await tree.changes(1024)).changes).toEqual([])
    const unchangedMs = performance.now() - started
    // Touch everything: every file is hashed.
    for (let d = 0; d < 100; d++) {
      await Promise.all(
        Array.from({ length: 100 }, (_, f) =>
          writeFile(path.join(dir, `d${d}/f${f}.txt`), `x${d}/${f}`),
        ),
      )
    }
    started = performance.now()
    expect((await tree.changes(1024)).changes).toHaveLength(10_000)
    const changedMs = performance.now() - started
    process.stderr.write(
      `10k files: mark ${markMs.toFixed(0)} ms, changes (none) ${unchangedMs.toFixed(0)} ms, changes (all) ${changedMs.toFixed(0)} ms\n`,
    )
    expect(markMs + unchangedMs + changedMs).toBeLessThan(20_000)
  }, 60_000)
})
