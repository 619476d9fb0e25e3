import { refuse } from './format-error.js'

/**
 * One directory block's entries, held to ext4's own rules (a record is at least 12 bytes,
 * 4-aligned, holds its name and ends inside the block; the records tile the block). An htree
 * directory needs nothing more: its index blocks read as one empty record covering the block,
 * the root's index hides in the slack of "..", and a checksum tail is an empty 12-byte record.
 */

export interface DirectoryEntry {
  inode: number
  /** The name's bytes, as on disk. */
  name: Buffer
  /** EXT4_FT_* of the entry (1 file, 2 directory, 7 symlink, …). */
  type: number
}

export function parseDirectoryBlock(block: Buffer, inodes: number): DirectoryEntry[] {
  const entries: DirectoryEntry[] = []
  let at = 0
  while (at < block.length) {
    if (at + 8 > block.length) refuse(`a directory record at byte ${at} runs past its block`)
    const inode = block.readUInt32LE(at)
    const length = block.readUInt16LE(at + 4)
    const nameLength = block.readUInt8(at + 6)
    if (length < 12 || length % 4 !== 0 || at + length > block.length)
      refuse(`a directory record at byte ${at} has length ${length}`)
    if (8 + nameLength > length)
      refuse(`a directory record at byte ${at} is shorter than its ${nameLength}-byte name`)
    if (inode !== 0) {
      if (inode > inodes) refuse(`a directory entry points at inode ${inode}, past the last`)
      if (nameLength === 0) refuse(`a directory entry for inode ${inode} has an empty name`)
      entries.push({
        inode,
        name: Buffer.from(block.subarray(at + 8, at + 8 + nameLength)),
        type: block.readUInt8(at + 7),
      })
    }
    at += length
  }
  return entries
}
