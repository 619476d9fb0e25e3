import type { JournalCopy } from './block-device.js'
import { mapBlocks, type Run } from './block-map.js'
import { refuse } from './format-error.js'
import { readInode, type Volume } from './inode.js'
import { unsupported } from './superblock.js'

/**
 * Journal replay in memory (jbd2's three passes: scan, revoke, replay), so that what the guest
 * committed before it died is read without writing the drive or running e2fsck on it. The result
 * maps each file-system block to its newest committed copy in the journal; a transaction
 * without its commit block is ignored, and a block revoked by a later transaction is not
 * replayed. Checksums are not verified: a guest that can write the journal can also make them
 * match, and jbd2 writes a commit block only after the blocks it commits.
 */

const MAGIC = 0xc03b3998
const DESCRIPTOR = 1
const COMMIT = 2
const SUPERBLOCK_V1 = 3
const SUPERBLOCK_V2 = 4
const REVOKE = 5
const INCOMPAT = {
  revoke: 0x1,
  '64bit': 0x2,
  async_commit: 0x4,
  csum_v2: 0x8,
  csum_v3: 0x10,
  fast_commit: 0x20,
} as const
const INCOMPAT_READ = [INCOMPAT.revoke, INCOMPAT['64bit'], INCOMPAT.csum_v2, INCOMPAT.csum_v3]
const COMPAT_CHECKSUM = 0x1
const FLAG_ESCAPE = 0x1
const FLAG_SAME_UUID = 0x2
const FLAG_LAST_TAG = 0x8

interface Transaction {
  tags: { target: number; at: number; escaped: boolean }[]
  revoked: number[]
}

interface Layout {
  tagBytes: number
  /** Where tags and revoke records must end (a checksum tail follows with csum v2/v3). */
  end: number
  is64: boolean
}

export async function replayJournal(volume: Volume): Promise<Map<number, JournalCopy>> {
  const g = volume.geometry
  const copies = new Map<number, JournalCopy>()
  if (g.journalInode === undefined || !g.needsRecovery) return copies
  const inode = await readInode(volume, g.journalInode)
  if (inode.kind !== 'file' || inode.size === 0 || inode.size % g.blockSize !== 0)
    refuse('the journal inode is not a whole number of blocks')
  const where = locate(await mapBlocks(volume, inode, inode.size / g.blockSize))
  const sb = await volume.device.rawBlock(where(0))
  const type = sb.readUInt32BE(4)
  if (sb.readUInt32BE(0) !== MAGIC || (type !== SUPERBLOCK_V1 && type !== SUPERBLOCK_V2))
    refuse('the journal has no superblock')
  const v2 = type === SUPERBLOCK_V2
  const incompat = v2 ? sb.readUInt32BE(0x28) : 0
  const bad = unsupported(incompat, INCOMPAT_READ, INCOMPAT)
  const badCompat = v2 ? unsupported(sb.readUInt32BE(0x24), [COMPAT_CHECKSUM], {}) : []
  const badRo = v2 ? unsupported(sb.readUInt32BE(0x2c), [], {}) : []
  if (bad.length + badCompat.length + badRo.length > 0)
    refuse(
      `the journal uses features this reader does not replay: ${[...bad, ...badCompat, ...badRo].join(', ')}`,
    )
  if (sb.readUInt32BE(0xc) !== g.blockSize)
    refuse('the journal block size differs from the file system')
  const maxlen = sb.readUInt32BE(0x10)
  const first = sb.readUInt32BE(0x14)
  const start = sb.readUInt32BE(0x1c)
  if (maxlen > inode.size / g.blockSize || first < 1 || first >= maxlen)
    refuse(`the journal's log (blocks ${first}–${maxlen}) does not fit its inode`)
  if (start === 0) return copies
  if (start < first || start >= maxlen)
    refuse(`the journal starts at block ${start}, outside its log`)
  const checksums = (incompat & (INCOMPAT.csum_v2 | INCOMPAT.csum_v3)) !== 0
  const is64 = (incompat & INCOMPAT['64bit']) !== 0
  const layout: Layout = {
    tagBytes:
      (incompat & INCOMPAT.csum_v3) !== 0
        ? 16
        : 12 + ((incompat & INCOMPAT.csum_v2) !== 0 ? 2 : 0) - (is64 ? 0 : 4),
    end: g.blockSize - (checksums ? 4 : 0),
    is64,
  }
  const committed = await scan(volume, where, layout, {
    first,
    maxlen,
    start,
    sequence: sb.readUInt32BE(0x18),
  })
  // A block revoked in transaction i is not replayed from transactions up to i.
  const revokedUpTo = new Map<number, number>()
  committed.forEach((t, i) => {
    for (const block of t.revoked) revokedUpTo.set(block, i)
  })
  committed.forEach((t, i) => {
    for (const tag of t.tags) {
      if ((revokedUpTo.get(tag.target) ?? -1) >= i) continue
      if (tag.target >= g.blocks)
        refuse(`the journal rewrites block ${tag.target}, outside the drive`)
      copies.set(tag.target, { at: tag.at, escaped: tag.escaped })
    }
  })
  return copies
}

/** The committed transactions from the log's start, in order. */
async function scan(
  volume: Volume,
  where: (logical: number) => number,
  layout: Layout,
  log: { first: number; maxlen: number; start: number; sequence: number },
): Promise<Transaction[]> {
  const area = log.maxlen - log.first
  const wrap = (block: number): number => (block >= log.maxlen ? block - area : block)
  const committed: Transaction[] = []
  let current: Transaction = { tags: [], revoked: [] }
  let position = log.start
  let sequence = log.sequence
  for (let scanned = 0; ; scanned++) {
    if (scanned > area) refuse('the journal never ends')
    const block = await volume.device.rawBlock(where(position))
    if (block.readUInt32BE(0) !== MAGIC || block.readUInt32BE(8) !== sequence) break
    const type = block.readUInt32BE(4)
    position = wrap(position + 1)
    if (type === DESCRIPTOR) {
      for (const tag of descriptorTags(block, layout)) {
        current.tags.push({ target: tag.target, at: where(position), escaped: tag.escaped })
        position = wrap(position + 1)
        scanned++
      }
    } else if (type === COMMIT) {
      committed.push(current)
      current = { tags: [], revoked: [] }
      sequence = (sequence + 1) >>> 0
    } else if (type === REVOKE) {
      current.revoked.push(...revokeRecords(block, layout))
    } else break
  }
  return committed
}

function descriptorTags(block: Buffer, layout: Layout): { target: number; escaped: boolean }[] {
  const tags: { target: number; escaped: boolean }[] = []
  let at = 12
  while (at + layout.tagBytes <= layout.end) {
    const flags = block.readUInt16BE(at + 6)
    const high = layout.is64 ? block.readUInt32BE(at + 8) : 0
    tags.push({
      target: high * 2 ** 32 + block.readUInt32BE(at),
      escaped: (flags & FLAG_ESCAPE) !== 0,
    })
    at += layout.tagBytes + ((flags & FLAG_SAME_UUID) !== 0 ? 0 : 16)
    if ((flags & FLAG_LAST_TAG) !== 0) break
  }
  return tags
}

function revokeRecords(block: Buffer, layout: Layout): number[] {
  const used = block.readUInt32BE(12)
  if (used > layout.end) refuse(`a journal revoke block claims ${used} bytes`)
  const size = layout.is64 ? 8 : 4
  const out: number[] = []
  for (let at = 16; at + size <= used; at += size) {
    out.push(
      layout.is64
        ? block.readUInt32BE(at) * 2 ** 32 + block.readUInt32BE(at + 4)
        : block.readUInt32BE(at),
    )
  }
  return out
}

/** Journal block → drive block, for a journal that must be fully allocated. */
function locate(runs: Run[]): (logical: number) => number {
  return (logical) => {
    let lo = 0
    let hi = runs.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const run = runs[mid] as Run
      if (logical < run.logical) hi = mid - 1
      else if (logical >= run.logical + run.count) lo = mid + 1
      else if (run.physical === undefined) break
      else return run.physical + (logical - run.logical)
    }
    return refuse(`journal block ${logical} is not allocated`)
  }
}
