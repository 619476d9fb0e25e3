import { constants, type Stats } from 'node:fs'
import { lstat, open, readlink, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { errnoOf } from '../shared/errors.js'
import type { ManifestEntry } from '../shared/manifest.js'
import { blobOid, fileModeOf, startBlobHash, symlinkMode } from './blob-oid.js'
import { syncFailed } from './sync-errors.js'
import { STREAM_ABOVE_BYTES } from './sync-decide.js'

/** What the host has at one project path, seen with lstat only. */
export type HostState =
  | { kind: 'missing' }
  | { kind: 'entry'; entry: ManifestEntry; permissions: number; content?: Uint8Array }
  | { kind: 'other'; what: 'directory' | 'fifo' | 'socket' | 'device' }

/** O_NOFOLLOW: a symlink swapped in after lstat fails; O_NONBLOCK: a FIFO swapped in never hangs. */
const readFlags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK
const chunkBytes = 1 << 20

export interface HostReadOptions {
  /** Keep the bytes (a symlink's target) in `content`; only for files known to be small. */
  keep?: boolean
  /** Receives every chunk read, e.g. to write a backup while hashing. */
  sink?: (chunk: Uint8Array) => Promise<void>
}

// Hashes the file git-style so it compares with manifests; a caller checks the parents first.
export async function readHostState(
  projectDir: string,
  rel: string,
  options: HostReadOptions = {},
): Promise<HostState> {
  const file = path.join(projectDir, rel)
  let stats: Stats
  try {
    stats = await lstat(file)
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return { kind: 'missing' }
    throw syncFailed(`cannot inspect ${rel} in the project`, error, { path: rel })
  }
  if (stats.isSymbolicLink()) return readLink(file, rel, stats, options)
  if (stats.isFile()) return readRegular(file, rel, options)
  if (stats.isDirectory()) return { kind: 'other', what: 'directory' }
  return { kind: 'other', what: stats.isFIFO() ? 'fifo' : stats.isSocket() ? 'socket' : 'device' }
}

async function readLink(
  file: string,
  rel: string,
  stats: Stats,
  options: HostReadOptions,
): Promise<HostState> {
  let target: Buffer
  try {
    target = await readlink(file, { encoding: 'buffer' })
  } catch (error) {
    throw syncFailed(`cannot read the symlink ${rel} in the project`, error, { path: rel })
  }
  await options.sink?.(target)
  const entry: ManifestEntry = { oid: blobOid(target), mode: symlinkMode, size: target.length }
  return {
    kind: 'entry',
    entry,
    permissions: stats.mode & 0o777,
    ...(options.keep === true ? { content: target } : {}),
  }
}

async function readRegular(
  file: string,
  rel: string,
  options: HostReadOptions,
): Promise<HostState> {
  let handle: FileHandle
  try {
    handle = await open(file, readFlags)
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return { kind: 'missing' }
    throw syncFailed(`cannot read ${rel} in the project`, error, { path: rel })
  }
  try {
    const stats = await handle.stat()
    if (!stats.isFile()) return { kind: 'other', what: 'device' }
    const hash = startBlobHash(stats.size)
    // Content is kept to merge or inspect; a file too large to merge is only hashed.
    const keep = options.keep === true && stats.size <= STREAM_ABOVE_BYTES
    const kept: Uint8Array[] = []
    let size = 0
    for (;;) {
      const buffer = Buffer.allocUnsafe(Math.min(chunkBytes, Math.max(1, stats.size - size)))
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, size)
      if (bytesRead === 0) break
      const chunk = buffer.subarray(0, bytesRead)
      size += bytesRead
      if (size > stats.size) throw new Error('the file grew while it was read')
      hash.update(chunk)
      if (keep) kept.push(chunk)
      await options.sink?.(chunk)
    }
    if (size !== stats.size) throw new Error('the file shrank while it was read')
    const entry: ManifestEntry = { oid: hash.digest('hex'), mode: fileModeOf(stats.mode), size }
    return {
      kind: 'entry',
      entry,
      permissions: stats.mode & 0o7777,
      ...(keep ? { content: Buffer.concat(kept) } : {}),
    }
  } catch (error) {
    throw syncFailed(`cannot read ${rel} in the project`, error, { path: rel })
  } finally {
    await handle.close()
  }
}

/** Same content and mode; two absent entries are the same too. Too-large bases never match. */
export function sameEntry(a: ManifestEntry | undefined, b: ManifestEntry | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  if (a.tooLarge === true || b.tooLarge === true) return false
  return a.oid === b.oid && a.mode === b.mode
}
