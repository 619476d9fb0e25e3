import type { BlockDevice } from './block-device.js'
import { refuse } from './format-error.js'
import type { Geometry } from './superblock.js'

/** An opened drive: its blocks, its geometry, where each group's inodes are. */
export interface Volume {
  device: BlockDevice
  geometry: Geometry
  inodeTables: number[]
}

export type InodeKind = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'device'

export interface Inode {
  number: number
  kind: InodeKind
  /** Permission bits (setuid, setgid, sticky included). */
  mode: number
  size: number
  links: number
  flags: number
  /** The 60 bytes of i_block: an extent tree root, a block map, or a short symlink's target. */
  blockArea: Buffer
}

export const FLAGS = {
  extents: 0x80000,
  encrypted: 0x800,
  eaInode: 0x200000,
  inlineData: 0x10000000,
  casefold: 0x40000000,
} as const

const KINDS = new Map<number, InodeKind>([
  [0x8000, 'file'],
  [0x4000, 'dir'],
  [0xa000, 'symlink'],
  [0x1000, 'fifo'],
  [0xc000, 'socket'],
  [0x2000, 'device'],
  [0x6000, 'device'],
])

/** The directory-entry file type each kind must carry (ext4's EXT4_FT_*). */
export const ENTRY_TYPES: Record<number, InodeKind> = {
  1: 'file',
  2: 'dir',
  3: 'device',
  4: 'device',
  5: 'fifo',
  6: 'socket',
  7: 'symlink',
}

/** Reads inode `n`, checking its number, its type and the flags a reader cannot honour. */
export async function readInode(volume: Volume, n: number): Promise<Inode> {
  const g = volume.geometry
  if (!Number.isInteger(n) || n < 1 || n > g.inodes) refuse(`inode ${n} is out of range`)
  const index = n - 1
  const table = volume.inodeTables[Math.floor(index / g.inodesPerGroup)] as number
  const offset = (index % g.inodesPerGroup) * g.inodeSize
  const block = await volume.device.block(table + Math.floor(offset / g.blockSize))
  const raw = block.subarray(offset % g.blockSize, (offset % g.blockSize) + 128)
  const mode = raw.readUInt16LE(0x0)
  const kind = KINDS.get(mode & 0xf000)
  if (kind === undefined) refuse(`inode ${n} has no valid type (mode 0${mode.toString(8)})`)
  const sizeHigh = raw.readUInt32LE(0x6c)
  if (sizeHigh >= 2 ** 21)
    refuse(`inode ${n} claims a size of 2^${Math.floor(Math.log2(sizeHigh)) + 32} bytes`)
  const flags = raw.readUInt32LE(0x20)
  for (const [name, bit] of [
    ['encrypted', FLAGS.encrypted],
    ['inline data', FLAGS.inlineData],
    ['case-folded', FLAGS.casefold],
    ['an extended-attribute inode', FLAGS.eaInode],
  ] as const) {
    if ((flags & bit) !== 0) refuse(`inode ${n} is ${name}`)
  }
  return {
    number: n,
    kind,
    mode: mode & 0o7777,
    size: raw.readUInt32LE(0x4) + sizeHigh * 2 ** 32,
    links: raw.readUInt16LE(0x1a),
    flags,
    blockArea: Buffer.from(raw.subarray(0x28, 0x28 + 60)),
  }
}
