import type { BlockDevice } from './block-device.js'
import { refuse } from './format-error.js'

/**
 * The ext4 superblock and group descriptors, held to what a workspace drive can be: the
 * features `mkfs.ext4` gives it (image/workspace-drive.ts pins them) and the few a guest's
 * kernel or tune2fs may add that change nothing for a reader. Anything else is refused by name.
 */

export interface Geometry {
  blockSize: number
  blocks: number
  inodes: number
  inodesPerGroup: number
  inodeSize: number
  /** First inode a file may have; the ones below (but the root) are the file system's own. */
  firstInode: number
  groups: number
  descriptorSize: number
  firstDataBlock: number
  has64bit: boolean
  /** Inode of an internal journal, or undefined when there is none. */
  journalInode: number | undefined
  /** The guest died with transactions in the journal not yet written in place. */
  needsRecovery: boolean
}

export const ROOT_INODE = 2
const JOURNAL_INODE = 8
const MAGIC = 0xef53

const COMPAT_HAS_JOURNAL = 0x4
const INCOMPAT = {
  compression: 0x1,
  filetype: 0x2,
  recover: 0x4,
  journal_dev: 0x8,
  meta_bg: 0x10,
  extent: 0x40,
  '64bit': 0x80,
  mmp: 0x100,
  flex_bg: 0x200,
  ea_inode: 0x400,
  dirdata: 0x1000,
  metadata_csum_seed: 0x2000,
  large_dir: 0x4000,
  inline_data: 0x8000,
  encrypt: 0x10000,
  casefold: 0x20000,
} as const
const INCOMPAT_READ: number[] = [
  INCOMPAT.filetype,
  INCOMPAT.recover,
  INCOMPAT.extent,
  INCOMPAT['64bit'],
  INCOMPAT.flex_bg,
  INCOMPAT.metadata_csum_seed,
]
const RO_COMPAT = {
  sparse_super: 0x1,
  large_file: 0x2,
  btree_dir: 0x4,
  huge_file: 0x8,
  gdt_csum: 0x10,
  dir_nlink: 0x20,
  extra_isize: 0x40,
  has_snapshot: 0x80,
  quota: 0x100,
  bigalloc: 0x200,
  metadata_csum: 0x400,
  replica: 0x800,
  read_only: 0x1000,
  project: 0x2000,
  shared_blocks: 0x4000,
  verity: 0x8000,
  orphan_present: 0x10000,
} as const
const RO_COMPAT_READ: number[] = [
  RO_COMPAT.sparse_super,
  RO_COMPAT.large_file,
  RO_COMPAT.huge_file,
  RO_COMPAT.gdt_csum,
  RO_COMPAT.dir_nlink,
  RO_COMPAT.extra_isize,
  RO_COMPAT.quota,
  RO_COMPAT.metadata_csum,
  RO_COMPAT.read_only,
  RO_COMPAT.project,
  RO_COMPAT.verity,
  RO_COMPAT.orphan_present,
]

/** The feature names in `bits` that are not in `allowed` (unknown bits as hex). */
export function unsupported(
  bits: number,
  allowed: readonly number[],
  names: Record<string, number>,
): string[] {
  let left = bits
  for (const bit of allowed) left &= ~bit
  const out: string[] = []
  for (let i = 0; i < 32; i++) {
    if (((left >>> i) & 1) === 0) continue
    const bit = 2 ** i
    out.push(
      Object.entries(names).find(([, value]) => value === bit)?.[0] ?? `0x${bit.toString(16)}`,
    )
  }
  return out
}

/** Parses and checks the 1,024-byte superblock. */
export function parseSuperblock(sb: Buffer): Geometry {
  if (sb.readUInt16LE(0x38) !== MAGIC) refuse('no ext4 superblock (bad magic)')
  if (sb.readUInt32LE(0x4c) < 1) refuse('revision 0 file systems are not supported')
  const logSize = sb.readUInt32LE(0x18)
  if (logSize > 2) refuse(`block size 2^${10 + logSize} is not supported (1, 2 or 4 KiB)`)
  const blockSize = 1024 << logSize
  const incompat = sb.readUInt32LE(0x60)
  const roCompat = sb.readUInt32LE(0x64)
  const badIncompat = unsupported(incompat, INCOMPAT_READ, INCOMPAT)
  const badRo = unsupported(roCompat, RO_COMPAT_READ, RO_COMPAT)
  if (badIncompat.length + badRo.length > 0)
    refuse(
      `it uses file-system features a workspace drive never has: ${[...badIncompat, ...badRo].join(', ')}`,
    )
  if ((incompat & INCOMPAT.filetype) === 0) refuse('directory entries carry no file type')
  const has64bit = (incompat & INCOMPAT['64bit']) !== 0
  const blocks = sb.readUInt32LE(0x4) + (has64bit ? sb.readUInt32LE(0x150) * 2 ** 32 : 0)
  const firstDataBlock = sb.readUInt32LE(0x14)
  if (firstDataBlock !== (blockSize === 1024 ? 1 : 0))
    refuse(`first data block ${firstDataBlock} does not match the block size`)
  const blocksPerGroup = sb.readUInt32LE(0x20)
  const inodesPerGroup = sb.readUInt32LE(0x28)
  const limit = blockSize * 8
  if (blocksPerGroup < 8 || blocksPerGroup > limit || inodesPerGroup < 1 || inodesPerGroup > limit)
    refuse(`${blocksPerGroup} blocks and ${inodesPerGroup} inodes per group are out of range`)
  if (blocks <= firstDataBlock) refuse(`${blocks} blocks is too few`)
  const groups = Math.ceil((blocks - firstDataBlock) / blocksPerGroup)
  const inodes = sb.readUInt32LE(0x0)
  if (inodes !== groups * inodesPerGroup)
    refuse(`${inodes} inodes do not fill ${groups} groups of ${inodesPerGroup}`)
  const inodeSize = sb.readUInt16LE(0x58)
  if (inodeSize < 128 || inodeSize > blockSize || (inodeSize & (inodeSize - 1)) !== 0)
    refuse(`inode size ${inodeSize} is out of range`)
  const descriptorSize = has64bit ? sb.readUInt16LE(0xfe) : 32
  if (descriptorSize < 32 || descriptorSize > 1024 || (descriptorSize & (descriptorSize - 1)) !== 0)
    refuse(`group descriptor size ${descriptorSize} is out of range`)
  if (has64bit && descriptorSize < 64) refuse('64-bit group descriptors shorter than 64 bytes')
  const firstInode = sb.readUInt32LE(0x54)
  if (firstInode < 11 || firstInode > inodes) refuse(`first inode ${firstInode} is out of range`)
  const hasJournal = (sb.readUInt32LE(0x5c) & COMPAT_HAS_JOURNAL) !== 0
  const needsRecovery = (incompat & INCOMPAT.recover) !== 0
  if (needsRecovery && !hasJournal) refuse('it needs a journal replay but has no journal')
  if (hasJournal && sb.readUInt32LE(0xe0) !== JOURNAL_INODE)
    refuse(`the journal is inode ${sb.readUInt32LE(0xe0)}, not ${JOURNAL_INODE}`)
  return {
    blockSize,
    blocks,
    inodes,
    inodesPerGroup,
    inodeSize,
    firstInode,
    groups,
    descriptorSize,
    firstDataBlock,
    has64bit,
    journalInode: hasJournal ? JOURNAL_INODE : undefined,
    needsRecovery,
  }
}

/** The superblock (always 1,024 bytes at byte 1,024) through the device's current view. */
export async function readSuperblock(device: BlockDevice, blockSize?: number): Promise<Buffer> {
  if (blockSize === undefined) return device.bytes(1024, 1024)
  const block = await device.block(Math.floor(1024 / blockSize))
  const at = 1024 % blockSize
  return Buffer.from(block.subarray(at, at + 1024))
}

/** The first block of each group's inode table, checked to lie inside the drive. */
export async function readInodeTables(device: BlockDevice, g: Geometry): Promise<number[]> {
  const tableBlocks = Math.ceil((g.inodesPerGroup * g.inodeSize) / g.blockSize)
  const perBlock = g.blockSize / g.descriptorSize
  const tables: number[] = []
  for (let group = 0; group < g.groups; group++) {
    const block = await device.block(g.firstDataBlock + 1 + Math.floor(group / perBlock))
    const at = (group % perBlock) * g.descriptorSize
    const table =
      block.readUInt32LE(at + 0x8) + (g.has64bit ? block.readUInt32LE(at + 0x28) * 2 ** 32 : 0)
    if (table < 1 || table + tableBlocks > g.blocks)
      refuse(`group ${group}'s inode table (block ${table}) is outside the drive`)
    tables.push(table)
  }
  return tables
}
