import { chmod, lstat, mkdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ChangeSet } from '../../../src/sandbox/agent-channel/types.js'
import { applyToMirror, type PullFiles } from '../../../src/sandbox/microvm/mirror-apply.js'
import { applyRecoveredTree, diffTrees } from '../../../src/sandbox/microvm/recover.js'
import { deliver } from '../../helpers/pull-receiver.js'
import { tempDir } from '../../helpers/sandbox.js'

/** A pull that serves content from a map, as the guest agent would. */
function serve(files: Record<string, string>, mode = 0o644): PullFiles {
  return async (paths, receive) => {
    const missing: string[] = []
    let pulled = 0
    for (const p of paths) {
      const content = files[p]
      if (content === undefined) {
        missing.push(p)
        continue
      }
      const data = Buffer.from(content)
      await deliver(await receive({ path: p, mode, size: data.length }), data)
      pulled++
    }
    return { pulled, missing }
  }
}

const file = (p: string, size = 1): ChangeSet['changes'][number] => ({
  path: p,
  kind: 'file',
  mode: 0o644,
  size,
  sha256: '',
})

describe('applyToMirror', () => {
  it('writes new and changed files, makes directories and links, removes deleted paths', async () => {
    const mirror = await tempDir()
    await writeFile(path.join(mirror, 'old.txt'), 'old')
    await mkdir(path.join(mirror, 'gone/deep'), { recursive: true })
    await writeFile(path.join(mirror, 'gone/deep/x'), 'x')
    const result = await applyToMirror(
      mirror,
      {
        changes: [
          file('src/new.ts'),
          file('old.txt'),
          { path: 'empty', kind: 'dir', mode: 0o755 },
          { path: 'link', kind: 'symlink', target: 'src/new.ts' },
          { path: 'gone/deep/x', kind: 'deleted' },
          { path: 'gone/deep', kind: 'deleted' },
          { path: 'gone', kind: 'deleted' },
        ],
        skipped: [],
      },
      serve({ 'src/new.ts': 'export {}\n', 'old.txt': 'new' }),
    )
    expect(result.refused).toEqual([])
    expect(result.changed).toEqual(
      ['empty', 'gone', 'gone/deep', 'gone/deep/x', 'link', 'old.txt', 'src/new.ts'].sort(),
    )
    expect(await readFile(path.join(mirror, 'src/new.ts'), 'utf8')).toBe('export {}\n')
    expect(await readFile(path.join(mirror, 'old.txt'), 'utf8')).toBe('new')
    expect((await lstat(path.join(mirror, 'empty'))).isDirectory()).toBe(true)
    expect(await readlink(path.join(mirror, 'link'))).toBe('src/new.ts')
    await expect(lstat(path.join(mirror, 'gone'))).rejects.toThrow(/ENOENT/)
  })

  it('never writes through a symlink the guest planted, nor outside the mirror', async () => {
    const root = await tempDir()
    const mirror = path.join(root, 'mirror')
    const outside = path.join(root, 'outside')
    await mkdir(mirror)
    await mkdir(outside)
    await writeFile(path.join(outside, 'secret'), 'host')
    await symlink(outside, path.join(mirror, 'escape'))
    const result = await applyToMirror(
      mirror,
      {
        changes: [
          file('escape/secret'),
          file('../outside/secret'),
          file('/etc/passwd'),
          { path: 'escape/secret', kind: 'deleted' },
          { path: 'a/../../outside/secret', kind: 'deleted' },
        ],
        skipped: [],
      },
      serve({
        'escape/secret': 'pwned',
        '../outside/secret': 'pwned',
        '/etc/passwd': 'pwned',
      }),
    )
    expect(await readFile(path.join(outside, 'secret'), 'utf8')).toBe('host')
    expect(result.changed).toEqual(['escape/secret'])
    expect(result.refused.map((r) => r.path).sort()).toEqual(
      ['../outside/secret', '/etc/passwd', 'a/../../outside/secret', 'escape/secret'].sort(),
    )
  })

  it('replaces a directory by a file and a file by a directory, dropping setuid bits', async () => {
    const mirror = await tempDir()
    await mkdir(path.join(mirror, 'was-dir/inner'), { recursive: true })
    await writeFile(path.join(mirror, 'was-dir/inner/f'), 'f')
    await writeFile(path.join(mirror, 'was-file'), 'f')
    await applyToMirror(
      mirror,
      {
        changes: [
          file('was-dir'),
          { path: 'was-file', kind: 'dir', mode: 0o755 },
          file('was-file/child'),
        ],
        skipped: [],
      },
      serve({ 'was-dir': 'now a file', 'was-file/child': 'child' }, 0o4755),
    )
    expect(await readFile(path.join(mirror, 'was-dir'), 'utf8')).toBe('now a file')
    expect((await lstat(path.join(mirror, 'was-dir'))).mode & 0o7777).toBe(0o755)
    expect(await readFile(path.join(mirror, 'was-file/child'), 'utf8')).toBe('child')
  })

  it('removes a file the guest deleted before it could be pulled', async () => {
    const mirror = await tempDir()
    await writeFile(path.join(mirror, 'flaky'), 'v1')
    const result = await applyToMirror(mirror, { changes: [file('flaky')], skipped: [] }, serve({}))
    expect(result.changed).toEqual(['flaky'])
    await expect(lstat(path.join(mirror, 'flaky'))).rejects.toThrow(/ENOENT/)
  })
})

describe('applyToMirror with large files', () => {
  it('stands in for a file over the cap with a sparse file of its size and mode', async () => {
    const mirror = await tempDir()
    const size = 5 * 1024 ** 3
    const result = await applyToMirror(
      mirror,
      { changes: [{ path: 'out/huge.img', kind: 'too-large', mode: 0o640, size }], skipped: [] },
      serve({}),
    )
    expect(result).toEqual({ changed: ['out/huge.img'], refused: [] })
    const stats = await lstat(path.join(mirror, 'out/huge.img'))
    expect(stats.size).toBe(size)
    expect(stats.mode & 0o777).toBe(0o640)
    expect(stats.blocks).toBe(0)
  })

  it('writes pulled files in chunks, leaving blocks of zeros as holes', async () => {
    const mirror = await tempDir()
    const data = Buffer.alloc(8 * 1024 * 1024)
    data.write('head', 0)
    data.write('tail', data.length - 4)
    const pull: PullFiles = async (paths, receive) => {
      await deliver(await receive({ path: 'disk.img', mode: 0o600, size: data.length }), data)
      return { pulled: paths.length, missing: [] }
    }
    const result = await applyToMirror(
      mirror,
      { changes: [file('disk.img', data.length)], skipped: [] },
      pull,
    )
    expect(result.changed).toEqual(['disk.img'])
    const written = await readFile(path.join(mirror, 'disk.img'))
    expect(written.equals(data)).toBe(true)
    expect((await lstat(path.join(mirror, 'disk.img'))).blocks * 512).toBeLessThan(64 * 1024)
  })
})

describe('recovered drive trees', () => {
  it('diffs a recovered tree against the mirror and applies it, ignoring lost+found', async () => {
    const recovered = await tempDir()
    const mirror = await tempDir()
    await mkdir(path.join(recovered, 'lost+found'))
    await mkdir(path.join(recovered, 'src'))
    await writeFile(path.join(recovered, 'src/a.ts'), 'changed')
    await writeFile(path.join(recovered, 'same.txt'), 'same')
    await writeFile(path.join(recovered, 'run.sh'), '#!/bin/sh\n')
    await chmod(path.join(recovered, 'run.sh'), 0o755)
    await symlink('src/a.ts', path.join(recovered, 'link'))
    await mkdir(path.join(mirror, 'src'))
    await writeFile(path.join(mirror, 'src/a.ts'), 'original')
    await writeFile(path.join(mirror, 'same.txt'), 'same')
    await writeFile(path.join(mirror, 'run.sh'), '#!/bin/sh\n')
    await writeFile(path.join(mirror, 'deleted.txt'), 'bye')

    const set = await diffTrees(recovered, mirror)
    expect(set.changes.map((c) => `${c.kind} ${c.path}`).sort()).toEqual(
      ['deleted deleted.txt', 'file run.sh', 'file src/a.ts', 'symlink link'].sort(),
    )
    const result = await applyRecoveredTree(recovered, mirror)
    expect(result.changed).toEqual(['deleted.txt', 'link', 'run.sh', 'src/a.ts'])
    expect(await readFile(path.join(mirror, 'src/a.ts'), 'utf8')).toBe('changed')
    expect((await lstat(path.join(mirror, 'run.sh'))).mode & 0o777).toBe(0o755)
    await expect(lstat(path.join(mirror, 'lost+found'))).rejects.toThrow(/ENOENT/)
    expect((await diffTrees(recovered, mirror)).changes).toEqual([])
  })
})
