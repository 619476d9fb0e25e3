import {
  chmod,
  lstat,
  open,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { execa } from 'execa'
import { describe, expect, it, onTestFinished } from 'vitest'
import { copyIn } from '../../../src/workspace/copy-in.js'
import { commitAll, listTree, projectAndMirror, tempDir, writeTree } from './fixtures.js'

/** Symlinks of every kind; one points at a FIFO outside the project, so following it would hang. */
async function addLinks(project: string): Promise<string> {
  const outside = await tempDir()
  await execa('mkfifo', [path.join(outside, 'fifo')])
  await symlink('src/a.txt', path.join(project, 'link-in'))
  await symlink('/etc/passwd', path.join(project, 'link-passwd'))
  await symlink('src', path.join(project, 'link-dir'))
  await symlink('/etc', path.join(project, 'link-etc'))
  await symlink('missing/nowhere', path.join(project, 'dangling'))
  await symlink(path.join(outside, 'fifo'), path.join(project, 'link-fifo'))
  return outside
}

describe('copyIn symlinks', () => {
  for (const source of ['git', 'walk'] as const) {
    it(`copies symlinks as symlinks, never following them (${source})`, async () => {
      const { project, mirror } = await projectAndMirror()
      await writeTree(project, { 'src/a.txt': 'a' })
      const outside = await addLinks(project)
      if (source === 'git') await commitAll(project, {})

      const report = await copyIn({ projectDir: project, mirrorDir: mirror })

      expect(report.source).toBe(source)
      expect(await listTree(mirror)).toEqual([
        'dangling -> missing/nowhere',
        'link-dir -> src',
        'link-etc -> /etc',
        `link-fifo -> ${path.join(outside, 'fifo')}`,
        'link-in -> src/a.txt',
        'link-passwd -> /etc/passwd',
        'src/a.txt',
      ])
      expect(report).toMatchObject({ files: 1, symlinks: 6, skipped: [] })
      expect((await lstat(path.join(mirror, 'link-dir'))).isSymbolicLink()).toBe(true)
      expect(await readlink(path.join(mirror, 'link-passwd'))).toBe('/etc/passwd')
    })
  }
})

describe('copyIn modes', () => {
  const modes = [
    { name: 'run.sh', set: 0o755, kept: 0o755 },
    { name: 'plain.txt', set: 0o644, kept: 0o644 },
    { name: 'private.key', set: 0o600, kept: 0o600 },
    { name: 'suid.bin', set: 0o4755, kept: 0o755 },
    { name: 'sgid.bin', set: 0o2750, kept: 0o750 },
    { name: 'sticky', set: 0o1644, kept: 0o644 },
  ]

  for (const source of ['git', 'walk'] as const) {
    it(`keeps permission bits and strips setuid, setgid and sticky bits (${source})`, async () => {
      const { project, mirror } = await projectAndMirror()
      for (const { name, set } of modes) {
        await writeFile(path.join(project, name), name)
        await chmod(path.join(project, name), set)
      }
      if (source === 'git') await commitAll(project, {})

      const report = await copyIn({ projectDir: project, mirrorDir: mirror })

      expect(report.source).toBe(source)
      for (const { name, kept } of modes) {
        expect((await stat(path.join(mirror, name))).mode & 0o7777, name).toBe(kept)
      }
    })
  }
})

describe('copyIn special and large files', () => {
  it('skips and reports FIFOs and sockets found by a walk', async () => {
    const { project, mirror } = await projectAndMirror()
    await writeTree(project, { 'a.txt': 'a' })
    await execa('mkfifo', [path.join(project, 'pipe')])
    await listenOn(path.join(project, 'sock'))

    const report = await copyIn({ projectDir: project, mirrorDir: mirror })

    expect(report.skipped).toEqual([
      { path: 'pipe', reason: 'fifo' },
      { path: 'sock', reason: 'socket' },
    ])
    expect(await listTree(mirror)).toEqual(['a.txt'])
  })

  it('skips a tracked file that has become a FIFO', async () => {
    const { project, mirror } = await projectAndMirror()
    await commitAll(project, { 'a.txt': 'a', pipe: 'was a file' })
    await rm(path.join(project, 'pipe'))
    await execa('mkfifo', [path.join(project, 'pipe')])

    const report = await copyIn({ projectDir: project, mirrorDir: mirror })

    expect(report.source).toBe('git')
    expect(report.skipped).toEqual([{ path: 'pipe', reason: 'fifo' }])
  })

  it('skips files over maxFileBytes and reports them', async () => {
    const { project, mirror } = await projectAndMirror()
    await writeTree(project, { 'big.bin': 'x'.repeat(1001), 'edge.bin': 'x'.repeat(1000) })

    const report = await copyIn({ projectDir: project, mirrorDir: mirror, maxFileBytes: 1000 })

    expect(report.skipped).toEqual([{ path: 'big.bin', reason: 'too-large' }])
    expect(await listTree(mirror)).toEqual(['edge.bin'])
    expect(await readFile(path.join(mirror, 'edge.bin'), 'utf8')).toHaveLength(1000)
  })

  it('keeps sparse files sparse, with their data, length and mode', async () => {
    const { project, mirror } = await projectAndMirror()
    const size = 16 * 1024 * 1024
    const handle = await open(path.join(project, 'disk.img'), 'w', 0o640)
    await handle.write('head', 0)
    await handle.write('middle', size / 2 + 10)
    await handle.truncate(size)
    await handle.close()
    await chmod(path.join(project, 'disk.img'), 0o4750)

    const report = await copyIn({ projectDir: project, mirrorDir: mirror })

    expect(report.bytes).toBe(size)
    const copied = await stat(path.join(mirror, 'disk.img'))
    expect(copied.size).toBe(size)
    expect(copied.mode & 0o7777).toBe(0o750)
    // Two blocks of data, not 16 MiB of zeros written out.
    expect(copied.blocks * 512).toBeLessThan(1024 * 1024)
    const bytes = await readFile(path.join(mirror, 'disk.img'))
    expect(bytes.subarray(0, 4).toString()).toBe('head')
    expect(bytes.subarray(size / 2 + 10, size / 2 + 16).toString()).toBe('middle')
    expect(bytes.filter((byte) => byte !== 0)).toHaveLength('headmiddle'.length)
  })
})

async function listenOn(socketPath: string): Promise<void> {
  const server = net.createServer()
  await new Promise<void>((resolve) => {
    server.listen(socketPath, resolve)
  })
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve()
        })
      }),
  )
}
