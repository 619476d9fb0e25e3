import { constants, type Stats } from 'node:fs'
import { lstat, open, readlink, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { errnoOf, SafeCoderError } from '../shared/errors.js'
import type { GitFileMode } from '../shared/manifest.js'

/** Why a mirror path is not in a commit. */
export type SkipReason =
  | 'fifo'
  | 'socket'
  | 'device'
  | 'unreadable'
  | 'unsafe-name'
  | 'invalid-utf8'
  | 'vanished'
  | 'path-too-long'
  | 'other-device'

/** The stat fields that decide whether a file must be read again. */
export interface StatKey {
  size: number
  mtimeMs: number
  ctimeMs: number
  ino: number
  mode: number
}

/** What one mirror path holds, read without following any link. */
export type MirrorEntry =
  | { kind: 'blob'; mode: GitFileMode; content: Buffer; stat: StatKey }
  /** A file larger than {@link wholeReadBytes}, already stored as the blob `oid` by the sink. */
  | { kind: 'stored'; mode: GitFileMode; oid: string; size: number; stat: StatKey }
  | { kind: 'too-large'; mode: GitFileMode; stat: StatKey }
  | { kind: 'directory' }
  | { kind: 'missing' }
  | { kind: 'skip'; reason: SkipReason }

const openFlags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK

/**
 * Files up to this size are read whole; larger ones go to the {@link LargeFileSink} in chunks.
 * Sixteen reads run at once, so this bounds what recording holds in memory to 128 MiB.
 */
export const wholeReadBytes = 8 * 1024 * 1024

/**
 * Stores a file too large to hold in memory as a blob, reading `size` bytes from the open
 * handle; returns its id, or undefined when the file came up short (it shrank meanwhile).
 */
export type LargeFileSink = (handle: FileHandle, size: number) => Promise<string | undefined>

export function statKey(stats: Stats): StatKey {
  return {
    size: stats.size,
    mtimeMs: stats.mtimeMs,
    ctimeMs: stats.ctimeMs,
    ino: stats.ino,
    mode: stats.mode,
  }
}

/** Git records only the owner's execute bit; setuid, setgid and the rest are dropped. */
export function fileMode(stats: { mode: number }): GitFileMode {
  return (stats.mode & 0o100) === 0 ? 0o100644 : 0o100755
}

/** Where a mirror path is read from: the mirror, its device, the size cap. */
export interface MirrorRoot {
  workDir: string
  dev: number
  maxFileBytes: number
}

/**
 * Reads one path of the hostile mirror: `lstat` first; a symlink yields its target bytes (never
 * what it points to); a regular file is opened with O_NOFOLLOW|O_NONBLOCK and must still be the
 * inode `lstat` saw, so a file swapped for a link or a FIFO in between is not followed or waited
 * on; files over `maxFileBytes` are never opened. Files over {@link wholeReadBytes} are handed to
 * `storeLarge` instead of being read into memory. A file that grows while it is read is recorded
 * up to its size at open time; one that shrinks is read again. Missing paths (or a parent that is no longer a directory) are
 * 'missing'; permission errors are skips.
 *
 * Node cannot open a path relative to a directory descriptor, so a parent directory swapped for
 * a link meanwhile is followed: the sandbox is frozen while its mirror is read (DESIGN.md §1).
 * As a second line, anything on another device than the mirror is refused ('other-device').
 *
 * @throws SafeCoderError COPY_FAILED for other I/O failures.
 */
export async function readMirrorEntry(
  root: MirrorRoot,
  rel: string,
  storeLarge: LargeFileSink,
  given?: Stats,
): Promise<MirrorEntry> {
  const { workDir, maxFileBytes } = root
  for (let attempt = 0; ; attempt++) {
    try {
      const stats = given ?? (await lstat(path.join(workDir, rel)))
      given = undefined
      if (stats.dev !== root.dev && !stats.isDirectory()) {
        return { kind: 'skip', reason: 'other-device' }
      }
      const entry = await readStatted(workDir, rel, stats, maxFileBytes, storeLarge)
      if (entry !== 'changed') return entry
    } catch (error) {
      const errno = errnoOf(error)
      if (errno === 'ENOENT' || errno === 'ENOTDIR') return { kind: 'missing' }
      if (errno === 'EACCES' || errno === 'EPERM') return { kind: 'skip', reason: 'unreadable' }
      // Deeper than the host's PATH_MAX: it cannot be opened here, so it cannot be recorded.
      if (errno === 'ENAMETOOLONG') return { kind: 'skip', reason: 'path-too-long' }
      if (errno !== 'ELOOP') throw readFailed(rel, error)
    }
    if (attempt === 2) return { kind: 'skip', reason: 'vanished' }
  }
}

async function readStatted(
  workDir: string,
  rel: string,
  stats: Stats,
  maxFileBytes: number,
  storeLarge: LargeFileSink,
): Promise<MirrorEntry | 'changed'> {
  if (stats.isDirectory()) return { kind: 'directory' }
  if (stats.isSymbolicLink()) {
    const target = await readlink(path.join(workDir, rel), { encoding: 'buffer' })
    return { kind: 'blob', mode: 0o120000, content: target, stat: statKey(stats) }
  }
  if (stats.isFIFO()) return { kind: 'skip', reason: 'fifo' }
  if (stats.isSocket()) return { kind: 'skip', reason: 'socket' }
  if (!stats.isFile()) return { kind: 'skip', reason: 'device' }
  if (stats.size > maxFileBytes)
    return { kind: 'too-large', mode: fileMode(stats), stat: statKey(stats) }
  const handle = await open(path.join(workDir, rel), openFlags)
  try {
    const opened = await handle.stat()
    if (!opened.isFile() || opened.ino !== stats.ino || opened.dev !== stats.dev) return 'changed'
    if (opened.size > maxFileBytes) {
      return { kind: 'too-large', mode: fileMode(opened), stat: statKey(opened) }
    }
    if (opened.size > wholeReadBytes) {
      const oid = await storeLarge(handle, opened.size)
      if (oid === undefined) return 'changed'
      return {
        kind: 'stored',
        mode: fileMode(opened),
        oid,
        size: opened.size,
        stat: statKey(opened),
      }
    }
    const content = Buffer.allocUnsafe(opened.size)
    let filled = 0
    while (filled < content.byteLength) {
      const { bytesRead } = await handle.read(content, filled, content.byteLength - filled, filled)
      if (bytesRead === 0) break
      filled += bytesRead
    }
    return {
      kind: 'blob',
      mode: fileMode(opened),
      content: content.subarray(0, filled),
      stat: statKey(opened),
    }
  } finally {
    await handle.close()
  }
}

/** The small blob recorded in place of a file over the size cap. */
export function tooLargePlaceholder(rel: string, size: number, maxFileBytes: number): Buffer {
  return Buffer.from(
    `Safe Coder did not record this file: ${size} bytes is over the ${maxFileBytes}-byte limit.\n` +
      `Path: ${JSON.stringify(rel)}\n`,
  )
}

export function readFailed(rel: string, cause: unknown): SafeCoderError {
  return new SafeCoderError(
    'COPY_FAILED',
    `Cannot read ${JSON.stringify(rel)} in the session mirror.`,
    {
      cause,
      hint: 'Check the mirror directory is readable and the disk is healthy.',
      data: { path: rel },
    },
  )
}
