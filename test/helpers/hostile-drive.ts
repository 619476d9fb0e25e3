import { mkdir, readFile, symlink, truncate, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import { WORKSPACE_FEATURES } from '../../src/sandbox/microvm/image/workspace-drive.js'
import { findTool } from '../../src/sandbox/microvm/image/tools.js'

/**
 * Crafted ext4 images for the drive-recovery tests: what a guest could write to its own
 * workspace drive. Built with `mkfs.ext4 -d` from a tree, then bent with `debugfs -w` (which
 * checks nothing about duplicate names) and by patching a directory entry's name bytes.
 */

async function tool(name: string): Promise<string> {
  const found = await findTool(name)
  if (found === undefined)
    throw new Error(`${name} is missing: install e2fsprogs (scripts/provision does).`)
  return found
}

export interface DriveOptions {
  sizeMib?: number
  /** metadata_csum (the real drives have it; byte patches leave stale checksums). */
  checksums?: boolean
  blockSize?: 1024 | 4096
}

/** An ext4 image of `tree` at `image`. */
export async function makeDrive(
  tree: string,
  image: string,
  options: DriveOptions = {},
): Promise<string> {
  const mkfs = await tool('mkfs.ext4')
  await writeFile(image, '')
  await truncate(image, (options.sizeMib ?? 32) * 1024 * 1024)
  // The workspace drive's own features, less the checksums when asked.
  const features = WORKSPACE_FEATURES.filter(
    (f) => options.checksums !== false || f !== 'metadata_csum',
  )
  await execa(mkfs, [
    '-F',
    '-q',
    '-t',
    'ext4',
    '-O',
    `none,${features.join(',')}`,
    '-b',
    String(options.blockSize ?? 4096),
    '-E',
    'lazy_itable_init=1,lazy_journal_init=1,nodiscard',
    '-d',
    tree,
    image,
  ])
  return image
}

/** Runs debugfs requests against the image (`-w` for writes), one per line. */
export async function debugfs(image: string, requests: string[], write = true): Promise<string> {
  const result = await execa(await tool('debugfs'), [...(write ? ['-w'] : []), '-f', '-', image], {
    input: requests.join('\n') + '\n',
  })
  return result.stdout
}

/** Replaces the only occurrence of `from` in the image with `to` (same byte length). */
export async function patchBytes(image: string, from: Buffer, to: Buffer): Promise<void> {
  if (from.length !== to.length) throw new Error('patchBytes needs equal lengths')
  const data = await readFile(image)
  const at = data.indexOf(from)
  if (at < 0 || data.indexOf(from, at + 1) >= 0)
    throw new Error(`${JSON.stringify(from.toString())} is not in the image exactly once`)
  to.copy(data, at)
  await writeFile(image, data)
}

/**
 * Rewrites the one directory entry named `name` (found by its name and name length): its inode,
 * record length, type byte or name (same length). Checksums are not updated.
 */
export async function patchEntry(
  image: string,
  name: string,
  edit: { inode?: number; recordLength?: number; type?: number; name?: Buffer },
): Promise<void> {
  const data = await readFile(image)
  const bytes = Buffer.from(name)
  const found: number[] = []
  for (let at = data.indexOf(bytes); at >= 0; at = data.indexOf(bytes, at + 1)) {
    if (at >= 8 && data[at - 2] === bytes.length) found.push(at - 8)
  }
  const [entry] = found
  if (entry === undefined || found.length > 1)
    throw new Error(`the entry ${JSON.stringify(name)} is not in the image exactly once`)
  if (edit.inode !== undefined) data.writeUInt32LE(edit.inode, entry)
  if (edit.recordLength !== undefined) data.writeUInt16LE(edit.recordLength, entry + 4)
  if (edit.type !== undefined) data.writeUInt8(edit.type, entry + 7)
  if (edit.name !== undefined) {
    if (edit.name.length !== bytes.length) throw new Error('patchEntry keeps the name length')
    edit.name.copy(data, entry + 8)
  }
  await writeFile(image, data)
}

/** A name that walks up from any directory to the root, then down to `target` (absolute). */
export function climbingName(target: string): string {
  const name = `${'../'.repeat(24)}${target.replace(/^\/+/, '')}`
  if (Buffer.byteLength(name) > 255) throw new Error(`${target} is too long for one name`)
  return name
}

/**
 * The drive a hostile guest writes: ordinary files, then in `d/` a symlink `evil` to
 * `linkTarget` followed by a regular file also named `evil` (duplicate entries are legal on
 * disk), and at the root an entry whose name is `climbingName(escapeTarget)`. A reader that
 * follows names or links writes "PWNED" to `linkTarget` and "ESCAPED" to `escapeTarget`.
 */
export async function craftHostileDrive(
  work: string,
  targets: { linkTarget: string; escapeTarget: string },
  options: DriveOptions = {},
): Promise<string> {
  const tree = path.join(work, 'hostile-tree')
  await mkdir(path.join(tree, 'd'), { recursive: true })
  await writeFile(path.join(tree, 'README.md'), 'an ordinary file\n')
  await symlink(targets.linkTarget, path.join(tree, 'd/evil'))
  await writeFile(path.join(tree, 'payload'), 'PWNED\n')
  const name = climbingName(targets.escapeTarget)
  const placeholder = 'N'.repeat(Buffer.byteLength(name))
  await writeFile(path.join(tree, placeholder), 'ESCAPED\n')
  const image = await makeDrive(tree, path.join(work, 'hostile.ext4'), {
    checksums: false,
    ...options,
  })
  // The payload's entry moves into d/ after the symlink's (debugfs appends), then takes its name.
  await debugfs(image, ['ln /payload /d/evim', 'unlink /payload'])
  await patchEntry(image, 'evim', { name: Buffer.from('evil') })
  await patchEntry(image, placeholder, { name: Buffer.from(name) })
  return image
}

/**
 * Logs, in one committed transaction of `image`'s journal, every block in which `newer` (the
 * same file system after some change) differs: replaying the journal turns `image` into
 * `newer`. `image` then needs recovery, as a drive whose guest died mid-work does.
 */
export async function journalDifference(
  image: string,
  newer: string,
  work: string,
  blockSize: number,
): Promise<number[]> {
  const [a, b] = await Promise.all([readFile(image), readFile(newer)])
  const blocks: number[] = []
  for (let n = 0; n * blockSize < a.length; n++) {
    const at = n * blockSize
    if (!a.subarray(at, at + blockSize).equals(b.subarray(at, at + blockSize))) blocks.push(n)
  }
  const data = path.join(work, 'journal-payload')
  await writeFile(
    data,
    Buffer.concat(blocks.map((n) => b.subarray(n * blockSize, (n + 1) * blockSize))),
  )
  await debugfs(image, ['jo -c', `jw -b ${blocks.join(',')} ${data}`, 'jc'])
  return blocks
}
