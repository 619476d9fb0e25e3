/**
 * Regular files read in bounded chunks: the workspace may hold files of any size (up to
 * `[workspace] max_file_mb`, 2 GiB and more), and a whole-file read past 2 GiB aborts Node.
 */

import { createHash } from 'node:crypto'
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs'
import { AgentError, assertFdInside, type Root } from './paths.js'

export const CHUNK_BYTES = 1024 * 1024

/**
 * Opens a regular file without following a symlink at its place and checks that the descriptor
 * is inside the root. The caller closes it. Throws AgentError MISSING/WRONG_KIND, or the errno.
 */
export function openRegular(root: Root, abs: string): { fd: number; stat: Stats } {
  let fd: number
  try {
    fd = openSync(abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new AgentError('MISSING', 'gone')
    if (code === 'ELOOP') throw new AgentError('WRONG_KIND', 'a symlink now')
    throw error
  }
  try {
    assertFdInside(root, fd)
    const stat = fstatSync(fd)
    if (!stat.isFile()) throw new AgentError('WRONG_KIND', 'not a regular file now')
    return { fd, stat }
  } catch (error) {
    closeSync(fd)
    throw error
  }
}

/**
 * The sha256 and size of a regular file of at most `max` bytes (undefined when larger), read in
 * chunks up to the size fstat saw: a file that grows meanwhile changes its mtime and is
 * reported again.
 */
export function hashRegularFile(
  root: Root,
  abs: string,
  max: number,
): { sha256: string; size: number; mode: number } | undefined {
  const { fd, stat } = openRegular(root, abs)
  try {
    if (stat.size > max) return undefined
    const hash = createHash('sha256')
    const buffer = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(1, stat.size)))
    let total = 0
    while (total < stat.size) {
      const n = readSync(fd, buffer, 0, Math.min(buffer.length, stat.size - total), null)
      if (n === 0) break
      hash.update(buffer.subarray(0, n))
      total += n
    }
    return { sha256: hash.digest('hex'), size: total, mode: stat.mode & 0o7777 }
  } finally {
    closeSync(fd)
  }
}
