import { lstat, mkdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ChangeSet } from '../../../src/sandbox/agent-channel/types.js'
import { applyToMirror, type PullFiles } from '../../../src/sandbox/microvm/mirror-apply.js'
import type { DriveEntry } from '../../../src/sandbox/microvm/ext4/index.js'
import {
  applyRecoveredTree,
  diffRecoveredTree,
  type RecoveredTree,
} from '../../../src/sandbox/microvm/recover.js'
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

/** A drive's tree in memory (what ext4/ yields after its checks). */
function driveTree(
  entries: (
    | { path: string; kind: 'dir'; mode?: number }
    | { path: string; kind: 'file'; content: string; mode?: number }
    | { path: string; kind: 'symlink'; target: string }
    | { path: string; kind: 'other'; special: 'fifo' | 'socket' | 'device' }
    | { path: string; kind: 'too-large'; size: number }
  )[],
  skipped: { path: string; reason: string }[] = [],
): RecoveredTree {
  const content = new Map<string, Buffer>()
  const list: DriveEntry[] = entries.map((e, inode) => {
    if (e.kind === 'file') {
      content.set(e.path, Buffer.from(e.content))
      return { path: e.path, inode, kind: 'file', mode: e.mode ?? 0o644, size: e.content.length }
    }
    if (e.kind === 'too-large')
      return { path: e.path, inode, kind: 'file', mode: 0o640, size: e.size, tooLarge: true }
    if (e.kind === 'dir') return { path: e.path, inode, kind: 'dir', mode: e.mode ?? 0o755 }
    if (e.kind === 'symlink') return { ...e, inode, mode: 0o777 }
    return { ...e, inode, mode: 0o644 }
  })
  return {
    entries: list,
    skipped,
    chunks: async function* (entry) {
      yield await Promise.resolve(content.get(entry.path) ?? Buffer.alloc(0))
    },
  }
}

describe('recovered drive trees', () => {
  it('diffs a recovered tree against the mirror and applies it, ignoring lost+found', async () => {
    const mirror = await tempDir()
    const recovered = driveTree(
      [
        { path: 'src', kind: 'dir' },
        { path: 'src/a.ts', kind: 'file', content: 'changed' },
        { path: 'same.txt', kind: 'file', content: 'same' },
        { path: 'run.sh', kind: 'file', content: '#!/bin/sh\n', mode: 0o4755 },
        { path: 'link', kind: 'symlink', target: 'src/a.ts' },
        { path: 'pipe', kind: 'other', special: 'fifo' },
        { path: 'big.bin', kind: 'too-large', size: 3 * 1024 ** 3 },
      ],
      [{ path: 'bad\\xff', reason: 'the name is not valid UTF-8' }],
    )
    await mkdir(path.join(mirror, 'src'))
    await mkdir(path.join(mirror, 'lost+found'))
    await writeFile(path.join(mirror, 'src/a.ts'), 'original')
    await writeFile(path.join(mirror, 'same.txt'), 'same')
    await writeFile(path.join(mirror, 'run.sh'), '#!/bin/sh\n')
    await writeFile(path.join(mirror, 'deleted.txt'), 'bye')
    await writeFile(path.join(mirror, 'big.bin'), 'the version the mirror had')

    const set = await diffRecoveredTree(recovered, mirror)
    expect(set.changes.map((c) => `${c.kind} ${c.path}`).sort()).toEqual(
      [
        'deleted deleted.txt',
        'file run.sh',
        'file src/a.ts',
        'symlink link',
        'too-large big.bin',
      ].sort(),
    )
    expect(set.skipped).toEqual([
      { path: 'bad\\xff', reason: 'the name is not valid UTF-8' },
      { path: 'pipe', reason: 'fifo' },
    ])
    const result = await applyRecoveredTree(recovered, mirror)
    expect(result.changed).toEqual(['big.bin', 'deleted.txt', 'link', 'run.sh', 'src/a.ts'])
    expect(await readFile(path.join(mirror, 'src/a.ts'), 'utf8')).toBe('changed')
    expect((await lstat(path.join(mirror, 'run.sh'))).mode & 0o7777).toBe(0o755)
    expect(await readlink(path.join(mirror, 'link'))).toBe('src/a.ts')
    // Over the cap: never read from the drive; a sparse stand-in of its size and mode.
    const big = await lstat(path.join(mirror, 'big.bin'))
    expect([big.size, big.mode & 0o777, big.blocks]).toEqual([3 * 1024 ** 3, 0o640, 0])
    expect((await lstat(path.join(mirror, 'lost+found'))).isDirectory()).toBe(true)
    expect((await diffRecoveredTree(recovered, mirror)).changes).toEqual([])
  })

  it('never reads the mirror through a link where the drive has a directory', async () => {
    const mirror = await tempDir()
    const outside = await tempDir()
    await writeFile(path.join(outside, 'same.txt'), 'same')
    await symlink(outside, path.join(mirror, 'dir'))
    const recovered = driveTree([
      { path: 'dir', kind: 'dir' },
      { path: 'dir/same.txt', kind: 'file', content: 'same' },
    ])
    const set = await diffRecoveredTree(recovered, mirror)
    expect(set.changes.map((c) => `${c.kind} ${c.path}`)).toEqual(['dir dir', 'file dir/same.txt'])
    await applyRecoveredTree(recovered, mirror)
    expect((await lstat(path.join(mirror, 'dir'))).isDirectory()).toBe(true)
    expect(await readFile(path.join(mirror, 'dir/same.txt'), 'utf8')).toBe('same')
    expect(await readFile(path.join(outside, 'same.txt'), 'utf8')).toBe('same')
  })
})
