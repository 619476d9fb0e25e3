import { refuse } from './format-error.js'
import { FLAGS, type Inode, type Volume } from './inode.js'

/**
 * Where an inode's first `blocks` logical blocks are: its extent tree, or a legacy block map
 * (ext4 keeps one for a file `chattr -e` converted back). Only the blocks asked for are walked,
 * so the work is bounded by the file's size, not by what its tree claims.
 */

/** `count` logical blocks from `logical`: at `physical`, or zeros (a hole, an unwritten extent). */
export interface Run {
  logical: number
  physical: number | undefined
  count: number
}

const EXTENT_MAGIC = 0xf30a
const MAX_DEPTH = 5

export async function mapBlocks(volume: Volume, inode: Inode, blocks: number): Promise<Run[]> {
  const runs: Run[] = []
  if (blocks === 0) return runs
  if ((inode.flags & FLAGS.extents) !== 0) {
    const state = { next: 0 }
    await walkExtents(volume, inode.blockArea, 4, undefined, blocks, runs, state)
  } else {
    await walkBlockMap(volume, inode.blockArea, blocks, runs)
  }
  return runs
}

/** One extent node: its header, then index entries (depth > 0) or leaves, 12 bytes each. */
async function walkExtents(
  volume: Volume,
  node: Buffer,
  capacity: number,
  depth: number | undefined,
  blocks: number,
  runs: Run[],
  state: { next: number },
): Promise<void> {
  if (node.readUInt16LE(0) !== EXTENT_MAGIC) refuse('an extent node has no magic')
  const entries = node.readUInt16LE(2)
  const max = node.readUInt16LE(4)
  const nodeDepth = node.readUInt16LE(6)
  if (max > capacity || entries > max) refuse(`an extent node holds ${entries} of ${max} entries`)
  if (depth !== undefined && nodeDepth !== depth) refuse('an extent node is at the wrong depth')
  if (nodeDepth > MAX_DEPTH) refuse(`an extent tree ${nodeDepth} levels deep`)
  // Only the root of an empty file may be empty: a shared empty node would cost nothing to
  // revisit, so every other node must move the walk forward.
  if (entries === 0 && depth !== undefined) refuse('an empty extent node below the root')
  const g = volume.geometry
  const perBlock = Math.floor((g.blockSize - 12) / 12)
  for (let i = 0; i < entries; i++) {
    const at = 12 + i * 12
    const first = node.readUInt32LE(at)
    if (first < state.next) refuse(`extents overlap or are out of order at block ${first}`)
    if (first >= blocks) return
    if (nodeDepth > 0) {
      const child = node.readUInt32LE(at + 4) + node.readUInt16LE(at + 8) * 2 ** 32
      const data = await volume.device.block(child)
      await walkExtents(volume, data, perBlock, nodeDepth - 1, blocks, runs, state)
      // Every entry moves the walk past its first block, so a tree whose nodes share children
      // costs at most a few reads per block of the file, never one per path through it.
      state.next = Math.max(state.next, first + 1)
      continue
    }
    const raw = node.readUInt16LE(at + 4)
    const unwritten = raw > 32768
    const count = unwritten ? raw - 32768 : raw
    if (count === 0) refuse('an empty extent')
    const start = node.readUInt16LE(at + 6) * 2 ** 32 + node.readUInt32LE(at + 8)
    if (start + count > g.blocks) refuse(`an extent (block ${start}+${count}) is outside the drive`)
    state.next = first + count
    const used = Math.min(count, blocks - first)
    runs.push({ logical: first, physical: unwritten ? undefined : start, count: used })
  }
}

/** i_block as 12 direct blocks, then single, double and triple indirect ones (0 = a hole). */
async function walkBlockMap(
  volume: Volume,
  area: Buffer,
  blocks: number,
  runs: Run[],
): Promise<void> {
  const perBlock = volume.geometry.blockSize / 4
  let logical = 0
  const visit = async (pointer: number, level: number): Promise<void> => {
    const span = perBlock ** level
    if (pointer === 0) {
      logical += span
      return
    }
    if (pointer >= volume.geometry.blocks) refuse(`block ${pointer} is outside the drive`)
    if (level === 0) {
      const last = runs.at(-1)
      if (
        last?.physical !== undefined &&
        last.logical + last.count === logical &&
        last.physical + last.count === pointer
      )
        last.count++
      else runs.push({ logical, physical: pointer, count: 1 })
      logical++
      return
    }
    const table = await volume.device.block(pointer)
    for (let i = 0; i < perBlock && logical < blocks; i++)
      await visit(table.readUInt32LE(i * 4), level - 1)
  }
  for (let i = 0; i < 15 && logical < blocks; i++) {
    await visit(area.readUInt32LE(i * 4), i < 12 ? 0 : i - 11)
  }
}

/** The first `size` bytes the runs describe (holes and unwritten extents read as zeros). */
export async function readRuns(
  volume: Volume,
  runs: readonly Run[],
  size: number,
): Promise<Buffer> {
  const out = Buffer.alloc(size)
  const blockSize = volume.geometry.blockSize
  for (const run of runs) {
    const at = run.logical * blockSize
    if (run.physical === undefined || at >= size) continue
    await volume.device.readRun(run.physical, run.count, out, at, size - at)
  }
  return out
}

/**
 * A file's bytes from its runs in chunks of at most `chunkBytes` (whole blocks), holes as
 * zeros: bounded memory whatever the file's size.
 */
export async function* readRunChunks(
  volume: Volume,
  runs: readonly Run[],
  size: number,
  chunkBytes: number,
): AsyncGenerator<Buffer> {
  const blockSize = volume.geometry.blockSize
  const chunkBlocks = Math.max(1, Math.floor(chunkBytes / blockSize))
  const sorted = [...runs].sort((a, b) => a.logical - b.logical)
  let next = 0
  for (let first = 0; first * blockSize < size; first += chunkBlocks) {
    const start = first * blockSize
    const out = Buffer.alloc(Math.min(chunkBlocks * blockSize, size - start))
    const end = first + chunkBlocks
    while (
      next < sorted.length &&
      (sorted[next] as Run).logical + (sorted[next] as Run).count <= first
    )
      next++
    for (let i = next; i < sorted.length; i++) {
      const run = sorted[i] as Run
      if (run.logical >= end) break
      if (run.physical === undefined) continue
      const from = Math.max(run.logical, first)
      const to = Math.min(run.logical + run.count, end)
      const at = (from - first) * blockSize
      if (at >= out.length) continue
      await volume.device.readRun(
        run.physical + (from - run.logical),
        to - from,
        out,
        at,
        out.length - at,
      )
    }
    yield out
  }
}
