import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  chmod,
  copyFile,
  link,
  lstat,
  mkdir,
  open,
  readFile,
  readdir,
  readlink,
  symlink,
  writeFile,
} from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openDriveTree, type DriveTree } from '../../../../src/sandbox/microvm/ext4/index.js'
import { findTool } from '../../../../src/sandbox/microvm/image/tools.js'
import { debugfs, journalDifference, makeDrive } from '../../../helpers/hostile-drive.js'
import { tempDir } from '../../../helpers/sandbox.js'

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex').slice(0, 16)

/** A tree with what a workspace holds: modes, links, an empty, a large and a sparse file, … */
async function sampleTree(root: string): Promise<void> {
  await mkdir(path.join(root, 'src'), { recursive: true })
  await mkdir(path.join(root, 'deep/a/b/c/d/e/f'), { recursive: true })
  await mkdir(path.join(root, 'with space'))
  await mkdir(path.join(root, 'many'))
  await writeFile(path.join(root, 'README.md'), '# hello\n')
  await writeFile(path.join(root, 'src/run.sh'), '#!/bin/sh\necho run\n', { mode: 0o755 })
  await writeFile(path.join(root, 'src/secret'), 'key', { mode: 0o600 })
  await writeFile(path.join(root, 'src/suid'), 'x')
  await chmod(path.join(root, 'src/suid'), 0o4755)
  await chmod(path.join(root, 'deep/a'), 0o700)
  await writeFile(path.join(root, 'empty'), '')
  await writeFile(path.join(root, 'big.bin'), Buffer.alloc((1 << 20) + 1, 'ab\u00ff'))
  const sparse = await open(path.join(root, 'sparse.bin'), 'w')
  await sparse.write('start', 0)
  await sparse.write('end', 2 << 20)
  await sparse.close()
  await writeFile(path.join(root, 'naïve "quoted" – ünïcødé ✓.txt'), 'unicode')
  await writeFile(path.join(root, 'with space/inner file'), 'inner')
  await writeFile(path.join(root, 'deep/a/b/c/d/e/f/leaf.txt'), 'leaf')
  for (let i = 0; i < 200; i++)
    await writeFile(
      path.join(root, 'many', `a-longer-file-name-${String(i).padStart(3, '0')}.txt`),
      `${i}`,
    )
  await symlink('README.md', path.join(root, 'link-relative'))
  await symlink('/etc/passwd', path.join(root, 'link-absolute'))
  await symlink('does/not/exist', path.join(root, 'link-dangling'))
  await symlink('x/'.repeat(50) + 'end', path.join(root, 'link-long'))
  await link(path.join(root, 'README.md'), path.join(root, 'hard-link'))
  if (spawnSync('mkfifo', [path.join(root, 'pipe')]).status !== 0) throw new Error('mkfifo failed')
}

/** path → what it is, from a host directory. */
async function describeDir(root: string, rel = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const name of await readdir(path.join(root, rel))) {
    const p = rel === '' ? name : `${rel}/${name}`
    if (p === 'lost+found') continue
    const full = path.join(root, p)
    const info = await lstat(full)
    const mode = (info.mode & 0o7777).toString(8)
    if (info.isDirectory()) {
      out[p] = `dir ${mode}`
      Object.assign(out, await describeDir(root, p))
    } else if (info.isSymbolicLink()) out[p] = `link ${await readlink(full)}`
    else if (info.isFile()) out[p] = `file ${mode} ${info.size} ${sha(await readFile(full))}`
    else out[p] = info.isFIFO() ? 'fifo' : 'special'
  }
  return out
}

/** The same, from the reader. */
async function describeDrive(tree: DriveTree): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const e of tree.entries) {
    const mode = e.mode.toString(8)
    if (e.kind === 'dir') out[e.path] = `dir ${mode}`
    else if (e.kind === 'symlink') out[e.path] = `link ${e.target}`
    else if (e.kind === 'file') {
      const whole = await tree.read(e)
      // Read in chunks (as a recovery does), the same bytes, holes as zeros.
      const parts: Buffer[] = []
      for await (const chunk of tree.chunks(e)) {
        expect(chunk.length).toBeLessThanOrEqual(1 << 20)
        parts.push(chunk)
      }
      expect(Buffer.concat(parts).equals(whole), e.path).toBe(true)
      out[e.path] = `file ${mode} ${e.size} ${sha(whole)}`
    } else out[e.path] = e.special
  }
  return out
}

async function readDrive(image: string): Promise<Record<string, string>> {
  const tree = await openDriveTree(image)
  try {
    expect(tree.skipped).toEqual([])
    return await describeDrive(tree)
  } finally {
    await tree.close()
  }
}

describe('the workspace drive reader', () => {
  for (const variant of [
    { blockSize: 4096, checksums: true },
    { blockSize: 1024, checksums: false },
  ] as const) {
    it(`reads a drive exactly as the tree it was made from (${variant.blockSize}-byte blocks${variant.checksums ? ', checksums' : ''})`, async () => {
      const work = await tempDir('sc-ext4-')
      const source = path.join(work, 'source')
      await mkdir(source)
      await sampleTree(source)
      const image = await makeDrive(source, path.join(work, 'drive.ext4'), variant)
      const expected = await describeDir(source)
      expect(await readDrive(image)).toEqual(expected)
      // Indexed (htree) directories, as a guest's kernel makes them for large directories.
      await rebuildDirectoryIndexes(image)
      expect(await debugfs(image, ['htree /many'], false)).toMatch(/Root node dump/)
      expect(await readDrive(image)).toEqual(expected)
      // The same as debugfs's own reading of this trusted drive (which keeps no FIFO).
      const dumped = path.join(work, 'dumped')
      await mkdir(dumped)
      await debugfs(image, [`rdump / ${dumped}`], false)
      const fromDebugfs = await describeDir(dumped)
      // rdump chowns after its chmod, which clears the setuid bit.
      const asDumped: Record<string, string | undefined> = {
        ...expected,
        'src/suid': expected['src/suid']?.replace('4755', '755'),
      }
      delete asDumped.pipe
      expect(fromDebugfs).toEqual(asDumped)
    }, 60_000)
  }

  it('replays the journal in memory: committed transactions in, revoked and uncommitted ones out', async () => {
    const work = await tempDir('sc-ext4-')
    const source = path.join(work, 'source')
    await mkdir(source)
    await writeFile(path.join(source, 'kept.txt'), 'kept\n')
    await writeFile(path.join(source, 'gone.txt'), 'to be removed\n')
    const image = await makeDrive(source, path.join(work, 'a.ext4'))
    // `newer`: what the guest did, written straight to a copy of the drive.
    const newer = path.join(work, 'b.ext4')
    await copyFile(image, newer)
    await writeFile(path.join(work, 'added'), 'added in the guest\n')
    await debugfs(newer, [
      `write ${path.join(work, 'added')} added.txt`,
      'mkdir made',
      'symlink made/link ../added.txt',
      'rm gone.txt',
    ])
    const wanted = await readDrive(newer)
    expect(Object.keys(wanted).sort()).toEqual(['added.txt', 'kept.txt', 'made', 'made/link'])
    const before = await readDrive(image)
    const logged = await journalDifference(image, newer, work, 4096)
    expect(await debugfs(image, ['stats'], false)).toMatch(/needs_recovery/)
    const bytes = await readFile(image)
    expect(await readDrive(image)).toEqual(wanted)
    // Only read: the drive is byte for byte what it was.
    expect((await readFile(image)).equals(bytes)).toBe(true)
    // e2fsck's replay agrees.
    expect(await readDrive(await e2fsckCopy(image))).toEqual(wanted)

    // A later transaction revoking every block: nothing of the first is replayed.
    const revoked = path.join(work, 'revoked.ext4')
    await copyFile(image, revoked)
    await debugfs(revoked, ['jo', `jw -r ${logged.join(',')}`, 'jc'])
    expect(await readDrive(revoked)).toEqual(before)
    expect(await readDrive(await e2fsckCopy(revoked))).toEqual(before)

    // The commit block gone (the guest died before writing it): nothing is replayed.
    const torn = path.join(work, 'torn.ext4')
    await copyFile(image, torn)
    await breakLastCommit(torn)
    expect(await readDrive(torn)).toEqual(before)
    expect(await readDrive(await e2fsckCopy(torn))).toEqual(before)
  }, 60_000)
})

/** A copy of the image with its journal replayed by e2fsck, to compare with. */
async function e2fsckCopy(image: string): Promise<string> {
  const copy = `${image}.e2fsck`
  await copyFile(image, copy)
  const e2fsck = await findTool('e2fsck')
  if (e2fsck === undefined) throw new Error('e2fsck is missing: install e2fsprogs')
  const result = spawnSync(e2fsck, ['-E', 'journal_only', '-y', copy])
  if ((result.status ?? 8) >= 4) throw new Error(`e2fsck failed: ${String(result.stderr)}`)
  return copy
}

async function rebuildDirectoryIndexes(image: string): Promise<void> {
  const e2fsck = await findTool('e2fsck')
  if (e2fsck === undefined) throw new Error('e2fsck is missing: install e2fsprogs')
  const result = spawnSync(e2fsck, ['-fyD', image])
  if ((result.status ?? 8) >= 4) throw new Error(`e2fsck -D failed: ${String(result.stderr)}`)
}

/** Zeroes the magic of the journal's last commit block. */
async function breakLastCommit(image: string): Promise<void> {
  const dump = await debugfs(image, ['logdump'], false)
  const commits = [...dump.matchAll(/type 2 \(commit block\) at block (\d+)/g)]
  const at = Number(commits.at(-1)?.[1])
  const physical = Number(
    (await debugfs(image, [`bmap <8> ${at}`], false)).trim().split('\n').at(-1),
  )
  const file = await open(image, 'r+')
  await file.write(Buffer.alloc(4), 0, 4, physical * 4096)
  await file.close()
}
