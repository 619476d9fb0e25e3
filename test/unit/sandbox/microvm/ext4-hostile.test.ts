import { spawnSync } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, open, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDriveTree } from '../../../../src/sandbox/microvm/ext4/index.js'
import type { DriveEntry, DriveLimits } from '../../../../src/sandbox/microvm/ext4/index.js'
import { isSafeCoderError } from '../../../../src/shared/errors.js'
import {
  debugfs,
  journalDifference,
  makeDrive,
  patchBytes,
  patchEntry,
} from '../../../helpers/hostile-drive.js'

/**
 * Drives a guest could write, each breaking one rule: the reader refuses every one of them,
 * with SANDBOX_FAILED naming the drive and the rule, before it yields anything.
 */

let work: string
let base: string

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'sc-ext4-hostile-'))
  const tree = path.join(work, 'tree')
  await mkdir(path.join(tree, 'd'), { recursive: true })
  await writeFile(path.join(tree, 'README.md'), 'an ordinary file\n')
  await writeFile(path.join(tree, 'payload'), 'PWNED\n')
  await writeFile(path.join(tree, 'SLASHNAME-13'), 'x')
  await writeFile(path.join(tree, 'NULNAME1'), 'x')
  await writeFile(path.join(tree, 'Q~'), 'x')
  await symlink('/etc/passwd', path.join(tree, 'd/evil'))
  await symlink('TARGET-WITH-A-NUL', path.join(tree, 'tlink'))
  // 1 KiB blocks and no checksums: small, and byte patches stay readable to every tool.
  base = await makeDrive(tree, path.join(work, 'base.ext4'), {
    sizeMib: 8,
    blockSize: 1024,
    checksums: false,
  })
}, 60_000)

afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})

let serial = 0
async function variant(edit: (image: string) => Promise<unknown>): Promise<string> {
  const image = path.join(work, `variant-${++serial}.ext4`)
  await copyFile(base, image)
  await edit(image)
  return image
}

async function refusal(image: string, limits: Partial<DriveLimits> = {}): Promise<string> {
  const error = await openDriveTree(image, limits).then(
    async (tree) => {
      await tree.close()
      return undefined
    },
    (e: unknown) => e,
  )
  if (!isSafeCoderError(error, 'SANDBOX_FAILED')) throw new Error(`not refused: ${String(error)}`)
  expect(error.message).toContain(image)
  expect(error.hint).toMatch(/nothing was taken from it/)
  expect(error.data?.refused).toEqual(expect.any(String))
  return error.message
}

const sif = (field: string) => (image: string) => debugfs(image, [`sif ${field}`])

describe('hostile workspace drives', { timeout: 60_000 }, () => {
  it('reads the untouched base drive', async () => {
    const tree = await openDriveTree(base)
    expect(tree.entries.map((e) => e.path).sort()).toEqual(
      ['NULNAME1', 'Q~', 'README.md', 'SLASHNAME-13', 'd', 'd/evil', 'payload', 'tlink'].sort(),
    )
    await tree.close()
  })

  const cases: [string, (image: string) => Promise<unknown>, RegExp][] = [
    [
      'a name holding "/" (climbing out)',
      (i) => patchEntry(i, 'SLASHNAME-13', { name: Buffer.from('../../etc/pw') }),
      /entry named "\.\.\/\.\.\/etc\/pw" holds a "\/"/,
    ],
    [
      'a symlink, then a regular file of the same name',
      async (i) => {
        await debugfs(i, ['ln /payload /d/evim', 'unlink /payload'])
        await patchEntry(i, 'evim', { name: Buffer.from('evil') })
      },
      /directory "d": two entries named "evil"/,
    ],
    [
      'a NUL byte in a name',
      (i) => patchEntry(i, 'NULNAME1', { name: Buffer.from('NUL\0NAME') }),
      /holds a NUL byte/,
    ],
    [
      'a third entry named ".."',
      (i) => patchEntry(i, 'Q~', { name: Buffer.from('..') }),
      /the root directory: another entry named "\.\."/,
    ],
    [
      'a directory linked into itself',
      (i) => debugfs(i, ['ln /d /d/loop']),
      /a hard-linked directory or a loop/,
    ],
    [
      'a feature no workspace drive has',
      (i) => debugfs(i, ['feature inline_data']),
      /never has: inline_data/,
    ],
    ['an extent outside the drive', sif('/README.md block[5] 0x7fffff00'), /outside the drive/],
    [
      'an entry type its inode does not have',
      sif('/README.md mode 0120644'),
      /its entry says file, inode \d+ is a symlink/,
    ],
    [
      'an entry naming the journal inode',
      (i) => debugfs(i, ['ln <8> /journal']),
      /keeps for itself/,
    ],
    ['an entry naming a free inode', sif('/README.md links_count 0'), /which is free/],
    ['an inode with inline data', sif('/README.md flags 0x10000000'), /inline data/],
    ['a directory with a hole', sif('/d size 2048'), /directory "d": block 1 is a hole/],
    [
      'a record length past its block',
      (i) => patchEntry(i, 'README.md', { recordLength: 4000 }),
      /has length 4000/,
    ],
    [
      'a symlink target with a NUL byte',
      (i) => patchBytes(i, Buffer.from('TARGET-WITH-A-NUL'), Buffer.from('TARGET-WITH\0A-NUL')),
      /"tlink": a symlink target holds a NUL byte/,
    ],
    [
      'more blocks than the image holds',
      (i) => debugfs(i, ['ssv blocks_count 8193']),
      /claims 8389632 bytes, the drive holds 8388608/,
    ],
    [
      'group counts that do not add up',
      (i) => debugfs(i, ['ssv blocks_count 99999999']),
      /inodes do not fill \d+ groups/,
    ],
    ['no file system at all', (i) => writeFile(i, Buffer.alloc(65536, 0x5a)), /no ext4 superblock/],
  ]
  for (const [title, edit, message] of cases) {
    it(`refuses ${title}`, async () => {
      expect(await refusal(await variant(edit))).toMatch(message)
    })
  }

  it('refuses a drive whose journal replays into a crafted directory', async () => {
    const newer = await variant(async (i) => {
      await debugfs(i, ['ln /payload /d/evim', 'unlink /payload'])
      await patchEntry(i, 'evim', { name: Buffer.from('evil') })
    })
    const image = await variant(() => Promise.resolve())
    await journalDifference(image, newer, work, 1024)
    expect(await refusal(image)).toMatch(/two entries named "evil"/)
  })

  it('refuses a journal that needs a feature it does not replay', async () => {
    const newer = await variant((i) => debugfs(i, ['mkdir more']))
    const image = await variant(() => Promise.resolve())
    await journalDifference(image, newer, work, 1024)
    const at = Number((await debugfs(image, ['bmap <8> 0'], false)).trim().split('\n').at(-1))
    const file = await open(image, 'r+')
    const incompat = Buffer.alloc(4)
    await file.read(incompat, 0, 4, at * 1024 + 0x28)
    incompat.writeUInt32BE(incompat.readUInt32BE(0) | 0x4, 0)
    await file.write(incompat, 0, 4, at * 1024 + 0x28)
    await file.close()
    expect(await refusal(image)).toMatch(/the journal: .*does not replay: async_commit/)
  })

  it('holds to its limits: entries and bytes refuse, a file over the cap is too large', async () => {
    expect(await refusal(base, { maxEntries: 3 })).toMatch(/more than 3 entries/)
    expect(await refusal(base, { maxReadBytes: 2048 })).toMatch(/add up to more than 2048 bytes/)
    const tree = await openDriveTree(base, { maxFileBytes: 10 })
    const readme = tree.entries.find((e) => e.path === 'README.md')
    expect(readme).toMatchObject({ kind: 'file', tooLarge: true })
    expect(tree.skipped).toEqual([])
    // Listed, never read: its blocks were not even mapped.
    await expect(tree.read(readme as DriveEntry)).rejects.toThrow(/too large/)
    await tree.close()
    // A size no file could have is too large too, never read.
    const huge = await variant(sif('/README.md size 0x10000000000'))
    const hugeTree = await openDriveTree(huge)
    expect(hugeTree.entries.find((e) => e.path === 'README.md')).toMatchObject({
      size: 0x10000000000,
      tooLarge: true,
    })
    await hugeTree.close()
  })

  it('skips, as a live pull does, names and link targets that are not UTF-8 and special files', async () => {
    const tree = path.join(work, 'odd-tree')
    await mkdir(tree)
    await writeFile(path.join(tree, 'fine.txt'), 'fine')
    await writeFile(Buffer.from(path.join(tree, 'bad\xffname'), 'latin1'), 'x')
    await mkdir(Buffer.from(path.join(tree, 'bad\xfedir'), 'latin1'))
    await symlink(Buffer.from('to-\xff', 'latin1'), path.join(tree, 'odd-link'))
    if (spawnSync('mkfifo', [path.join(tree, 'pipe')]).status !== 0) throw new Error('mkfifo')
    const image = await makeDrive(tree, path.join(work, 'odd.ext4'), { sizeMib: 8 })
    const read = await openDriveTree(image)
    expect(read.entries.map((e) => `${e.kind} ${e.path}`).sort()).toEqual([
      'file fine.txt',
      'other pipe',
    ])
    expect([...read.skipped].sort((a, b) => a.path.localeCompare(b.path))).toEqual([
      { path: 'bad\\xfedir', reason: 'the name is not valid UTF-8' },
      { path: 'bad\\xffname', reason: 'the name is not valid UTF-8' },
      { path: 'odd-link', reason: 'the link target is not valid UTF-8' },
    ])
    await read.close()
  })

  it('never writes to the drive it reads', async () => {
    const image = await variant(() => Promise.resolve())
    const newer = await variant((i) => debugfs(i, ['mkdir more']))
    await journalDifference(image, newer, work, 1024)
    const before = await readFile(image)
    const tree = await openDriveTree(image)
    expect(tree.entries.map((e) => e.path)).toContain('more')
    await tree.close()
    expect((await readFile(image)).equals(before)).toBe(true)
  })
})
