import { constants, type Stats } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'

/** Bytes read at a time; runs of zero blocks within are skipped, the rest written. */
const chunkBytes = 1024 * 1024
/** The smallest run of zeros left as a hole (a filesystem block). */
const blockBytes = 4096
const zeros = Buffer.alloc(chunkBytes)

/** Whether a file has holes: fewer bytes allocated than its length. */
export function isSparse(stats: Stats): boolean {
  return stats.blocks * 512 < stats.size
}

/**
 * Copies a regular file keeping it sparse: Node has no SEEK_DATA/SEEK_HOLE, and copyFile (with
 * no reflink on ext4) writes every hole out as zeros, so a 2 GiB sparse file would take 2 GiB of
 * the session's disk. Reads in bounded chunks; blocks of zeros are not written, and the length is
 * set at the end. The source is opened without following a link and must still be the file
 * `stats` describes; the target is created exclusively, private until the caller sets its mode.
 * Returns false when the source changed kind or identity meanwhile.
 */
export async function copySparse(source: string, target: string, stats: Stats): Promise<boolean> {
  const from = await open(source, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  try {
    const opened = await from.stat()
    if (!opened.isFile() || opened.ino !== stats.ino || opened.dev !== stats.dev) return false
    const to = await open(target, 'wx', 0o600)
    try {
      await copyData(from, to, opened.size)
      await to.truncate(opened.size)
    } finally {
      await to.close()
    }
    return true
  } finally {
    await from.close()
  }
}

async function copyData(from: FileHandle, to: FileHandle, size: number): Promise<void> {
  for (let offset = 0; offset < size;) {
    const buffer = Buffer.allocUnsafe(Math.min(chunkBytes, size - offset))
    const { bytesRead } = await from.read(buffer, 0, buffer.length, offset)
    if (bytesRead === 0) return
    for (const [start, end] of dataRuns(buffer.subarray(0, bytesRead))) {
      await to.write(buffer, start, end - start, offset + start)
    }
    offset += bytesRead
  }
}

/**
 * [start, end) ranges of `chunk` that are not whole 4 KiB blocks of zeros: what a sparse writer
 * writes (at the chunk's offset) and what it leaves as holes.
 */
export function dataRuns(chunk: Buffer): [number, number][] {
  const runs: [number, number][] = []
  let runStart = -1
  for (let at = 0; at < chunk.length; at += blockBytes) {
    const end = Math.min(at + blockBytes, chunk.length)
    const empty = chunk.subarray(at, end).equals(zeros.subarray(0, end - at))
    if (!empty && runStart === -1) runStart = at
    if (empty && runStart !== -1) {
      runs.push([runStart, at])
      runStart = -1
    }
  }
  if (runStart !== -1) runs.push([runStart, chunk.length])
  return runs
}
