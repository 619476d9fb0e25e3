import { isUtf8 } from 'node:buffer'
import type { Dirent } from 'node:fs'
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import { throwIfAborted } from '../shared/abort.js'
import { errnoOf } from '../shared/errors.js'
import { readFailed, type SkipReason } from './mirror-entry.js'
import { isValidTreeName } from './tree-object.js'

/** A non-directory found by a walk, by its dirent type (a hint: `lstat` decides later). */
export interface WalkedPath {
  rel: string
  /** `rel` split at its last slash ('' for the top). */
  dir: string
  name: string
  kind: 'file' | 'symlink'
}

export interface WalkResult {
  paths: WalkedPath[]
  skipped: { path: string; reason: SkipReason }[]
}

/**
 * Lists every path under `rel` in the mirror without following links: directories come from
 * readdir's entry types, so a symlinked directory is a link, never descended into. Special files
 * and names git cannot hold are reported, not listed. A nested `.git` is just a directory.
 * `onListed` gets each directory's paths as soon as it is read, while deeper reads go on.
 */
export async function walkMirror(
  workDir: string,
  rel: string,
  signal?: AbortSignal,
  onListed?: (paths: WalkedPath[]) => Promise<void>,
): Promise<WalkResult> {
  const result: WalkResult = { paths: [], skipped: [] }
  await walkDir(workDir, rel, result, signal, onListed)
  return result
}

async function walkDir(
  workDir: string,
  rel: string,
  out: WalkResult,
  signal?: AbortSignal,
  onListed?: (paths: WalkedPath[]) => Promise<void>,
): Promise<void> {
  throwIfAborted(signal, 'Recording the mirror')
  const entries = await listDir(workDir, rel, out)
  const subdirs: string[] = []
  const listed: WalkedPath[] = []
  for (const entry of entries) {
    const child = rel === '' ? entry.name : `${rel}/${entry.name}`
    if (entry.isDirectory()) subdirs.push(child)
    else if (entry.isFile()) listed.push({ rel: child, dir: rel, name: entry.name, kind: 'file' })
    else if (entry.isSymbolicLink()) {
      listed.push({ rel: child, dir: rel, name: entry.name, kind: 'symlink' })
    } else out.skipped.push({ path: child, reason: specialReason(entry) })
  }
  for (const path of listed) out.paths.push(path)
  // Deeper directories are read in the thread pool while this one's paths are handled here.
  const deeper = Promise.all(subdirs.map((child) => walkDir(workDir, child, out, signal, onListed)))
  const handled = listed.length === 0 || onListed === undefined ? undefined : onListed(listed)
  await Promise.all([deeper, handled])
}

function specialReason(entry: Dirent): SkipReason {
  if (entry.isFIFO()) return 'fifo'
  if (entry.isSocket()) return 'socket'
  return 'device'
}

/**
 * A directory's entries whose names git can store. Node decodes names as UTF-8 and replaces
 * invalid bytes with U+FFFD, which would name a different (or no) file and could collide with a
 * real one; such names are re-read as bytes and reported as 'invalid-utf8' instead of recorded.
 */
async function listDir(workDir: string, rel: string, out: WalkResult): Promise<Dirent[]> {
  const dir = path.join(workDir, rel)
  let entries: Dirent[]
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch (error) {
    const errno = errnoOf(error)
    if (rel !== '' && (errno === 'ENOENT' || errno === 'ENOTDIR')) return []
    if (rel !== '' && (errno === 'EACCES' || errno === 'EPERM')) {
      out.skipped.push({ path: rel, reason: 'unreadable' })
      return []
    }
    if (rel !== '' && errno === 'ENAMETOOLONG') {
      out.skipped.push({ path: rel, reason: 'path-too-long' })
      return []
    }
    throw readFailed(rel, error)
  }
  const kept = entries.filter((entry) => {
    if (isValidTreeName(entry.name)) return true
    out.skipped.push({
      path: rel === '' ? entry.name : `${rel}/${entry.name}`,
      reason: 'unsafe-name',
    })
    return false
  })
  if (!kept.some((entry) => entry.name.includes('\uFFFD'))) return kept
  const raw = await readdir(dir, { encoding: 'buffer' })
  const invalid = new Set(raw.filter((name) => !isUtf8(name)).map((name) => name.toString()))
  return kept.filter((entry) => {
    if (!invalid.has(entry.name)) return true
    out.skipped.push({
      path: rel === '' ? entry.name : `${rel}/${entry.name}`,
      reason: 'invalid-utf8',
    })
    return false
  })
}
