import { isUtf8 } from 'node:buffer'
import { escapeName } from '../../../guest/tree.js'
import { mapBlocks, readRuns, type Run } from './block-map.js'
import { parseDirectoryBlock, type DirectoryEntry } from './directory.js'
import { refuse, within } from './format-error.js'
import { ENTRY_TYPES, FLAGS, readInode, type Inode, type Volume } from './inode.js'
import { ROOT_INODE } from './superblock.js'

/**
 * The drive's tree from the root inode, parents before children, every rule checked before
 * anything is returned: names without `/` or NUL, `.` and `..` only as a directory's first two
 * entries, no name twice in a directory, each directory reached once (no hard-linked
 * directories, no loops), entry types matching their inodes, block numbers inside the drive,
 * and at most so many entries and bytes. What a live pull would also leave in the guest (names
 * that are not UTF-8, paths the host cannot hold) is reported as skipped; a file over the size cap is
 * listed as too large.
 */

/** One entry of the drive's tree; `path` is relative and `/`-separated. */
export type DriveEntry = { path: string; inode: number } & EntryKind

/** What an entry is; `mode` holds the permission bits (setuid, setgid, sticky included). */
export type EntryKind =
  /** `tooLarge`: over the size cap; its blocks are not mapped nor its bytes read. */
  | { kind: 'file'; mode: number; size: number; tooLarge?: true }
  | { kind: 'dir'; mode: number }
  | { kind: 'symlink'; mode: number; target: string }
  /** A special file, in the words a live pull uses. */
  | { kind: 'other'; mode: number; special: 'fifo' | 'socket' | 'device' }

export interface DriveLimits {
  /** Larger files are listed as too large (never read), as a live pull reports them. */
  maxFileBytes: number
  /** More entries than this refuses the drive. */
  maxEntries: number
  /** More file, link and directory bytes than this (over all paths) refuses the drive. */
  maxReadBytes: number
}

export interface WalkedTree {
  entries: DriveEntry[]
  skipped: { path: string; reason: string }[]
  /** Where each regular file's bytes are, by inode. */
  runs: Map<number, Run[]>
}

/** Longest path the host can name (PATH_MAX less its NUL), as the guest agent enforces. */
const MAX_PATH_BYTES = 4095
const YIELD_EVERY = 2000
const LOST_AND_FOUND = 'lost+found'

interface Pending {
  inode: Inode
  path: string
  /** The path as printable ASCII, for messages (names are the guest's). */
  shown: string
  parent: number
}

export async function walkTree(volume: Volume, limits: DriveLimits): Promise<WalkedTree> {
  const root = await readInode(volume, ROOT_INODE)
  if (root.kind !== 'dir') refuse('the root is not a directory')
  const tree: WalkedTree = { entries: [], skipped: [], runs: new Map() }
  const directories = new Map<number, string>([[ROOT_INODE, '/']])
  let spent = 0
  const spend = (bytes: number): void => {
    spent += bytes
    if (spent > limits.maxReadBytes)
      refuse(`its files, links and directories add up to more than ${limits.maxReadBytes} bytes`)
  }
  const stack: Pending[] = [{ inode: root, path: '', shown: '', parent: ROOT_INODE }]
  let sinceYield = 0
  while (stack.length > 0) {
    const dir = stack.pop() as Pending
    const where = dir.shown === '' ? 'the root directory' : `directory ${JSON.stringify(dir.shown)}`
    const children = await within(where, () => readDirectory(volume, dir, spend))
    const subdirectories: Pending[] = []
    for (const child of children) {
      if (tree.entries.length + tree.skipped.length >= limits.maxEntries)
        refuse(`it holds more than ${limits.maxEntries} entries`)
      const shown = join(dir.shown, escapeName(child.name))
      if (!isUtf8(child.name)) {
        // As the guest agent names it: the parent as it is, the name escaped.
        const named = join(dir.path, escapeName(child.name))
        tree.skipped.push({ path: named, reason: 'the name is not valid UTF-8' })
        continue
      }
      const path = join(dir.path, child.name.toString('utf8'))
      if (path === LOST_AND_FOUND) continue
      if (Buffer.byteLength(path) > MAX_PATH_BYTES) {
        tree.skipped.push({ path, reason: `the path is longer than ${MAX_PATH_BYTES} bytes` })
        continue
      }
      const found = await within(JSON.stringify(shown), () => visit(volume, child, limits, spend))
      if (found.runs !== undefined && !tree.runs.has(child.inode))
        tree.runs.set(child.inode, found.runs)
      if (found.skip !== undefined) {
        tree.skipped.push({ path, reason: found.skip })
        continue
      }
      tree.entries.push({ path, inode: child.inode, ...found.entry })
      if (found.entry.kind === 'dir') {
        const other = directories.get(child.inode)
        if (other !== undefined)
          refuse(
            `${JSON.stringify(shown)} is the directory also at ${JSON.stringify(other)} (a hard-linked directory or a loop)`,
          )
        directories.set(child.inode, shown)
        subdirectories.push({ inode: found.inode, path, shown, parent: dir.inode.number })
      }
      if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
    for (let i = subdirectories.length - 1; i >= 0; i--) stack.push(subdirectories[i] as Pending)
  }
  return tree
}

function join(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`
}

/** One child: its inode checked against its entry, a file's blocks mapped, a link's target read. */
async function visit(
  volume: Volume,
  child: DirectoryEntry,
  limits: DriveLimits,
  spend: (bytes: number) => void,
): Promise<{ entry: EntryKind; inode: Inode; skip?: string; runs?: Run[] }> {
  if (child.inode < volume.geometry.firstInode && child.inode !== ROOT_INODE)
    refuse(`it names inode ${child.inode}, one the file system keeps for itself`)
  const inode = await readInode(volume, child.inode)
  const said = ENTRY_TYPES[child.type]
  if (said !== inode.kind)
    refuse(
      `its entry says ${said ?? `type ${child.type}`}, inode ${inode.number} is a ${inode.kind}`,
    )
  if (inode.links === 0) refuse(`it names inode ${inode.number}, which is free`)
  const mode = inode.mode
  switch (inode.kind) {
    case 'dir':
      return { entry: { kind: 'dir', mode }, inode }
    case 'file': {
      const entry = { kind: 'file' as const, mode, size: inode.size }
      if (inode.size > limits.maxFileBytes) return { entry: { ...entry, tooLarge: true }, inode }
      spend(inode.size)
      const blocks = Math.ceil(inode.size / volume.geometry.blockSize)
      return { entry, inode, runs: await mapBlocks(volume, inode, blocks) }
    }
    case 'symlink': {
      const target = await readSymlink(volume, inode)
      spend(target.length)
      const entry = { kind: 'symlink' as const, mode, target: target.toString('utf8') }
      if (!isUtf8(target)) return { entry, inode, skip: 'the link target is not valid UTF-8' }
      return { entry, inode }
    }
    case 'fifo':
    case 'socket':
    case 'device':
      return { entry: { kind: 'other', mode, special: inode.kind }, inode }
  }
}

/** A short target sits in the inode itself; a longer one in a data block. */
async function readSymlink(volume: Volume, inode: Inode): Promise<Buffer> {
  if (inode.size === 0 || inode.size > MAX_PATH_BYTES)
    refuse(`a symlink target of ${inode.size} bytes`)
  const inline = (inode.flags & FLAGS.extents) === 0 && inode.size < inode.blockArea.length
  const target = inline
    ? inode.blockArea.subarray(0, inode.size)
    : await readRuns(
        volume,
        await mapBlocks(volume, inode, Math.ceil(inode.size / volume.geometry.blockSize)),
        inode.size,
      )
  if (target.includes(0)) refuse('a symlink target holds a NUL byte')
  return target
}

/** A directory's named entries, after its `.` and `..`; each name checked, none twice. */
async function readDirectory(
  volume: Volume,
  dir: Pending,
  spend: (bytes: number) => void,
): Promise<DirectoryEntry[]> {
  const g = volume.geometry
  const size = dir.inode.size
  if (size === 0 || size % g.blockSize !== 0) refuse(`its size ${size} is not whole blocks`)
  spend(size)
  const blocks = size / g.blockSize
  const runs = await mapBlocks(volume, dir.inode, blocks)
  let covered = 0
  for (const run of runs) {
    if (run.logical !== covered || run.physical === undefined) refuse(`block ${covered} is a hole`)
    covered += run.count
  }
  if (covered !== blocks) refuse(`block ${covered} is a hole`)
  const names = new Set<string>()
  const out: DirectoryEntry[] = []
  for (const run of runs) {
    for (let i = 0; i < run.count; i++) {
      const first = run.logical + i === 0
      const entries = parseDirectoryBlock(
        await volume.device.block((run.physical as number) + i),
        g.inodes,
      )
      if (first) {
        const [self, parent] = entries
        if (self?.name.toString('latin1') !== '.' || self.inode !== dir.inode.number)
          refuse('its first entry is not "." naming itself')
        if (parent?.name.toString('latin1') !== '..' || parent.inode !== dir.parent)
          refuse('its second entry is not ".." naming its parent')
      }
      for (const entry of first ? entries.slice(2) : entries) {
        const key = entry.name.toString('latin1')
        const shown = JSON.stringify(escapeName(entry.name).slice(0, 80))
        if (key === '.' || key === '..') refuse(`another entry named ${shown}`)
        if (entry.name.includes(0x2f)) refuse(`an entry named ${shown} holds a "/"`)
        if (entry.name.includes(0)) refuse(`an entry named ${shown} holds a NUL byte`)
        if (names.has(key)) refuse(`two entries named ${shown}`)
        names.add(key)
        out.push(entry)
      }
    }
  }
  return out
}
