import { chmod, lstat, readdir } from 'node:fs/promises'
import path from 'node:path'
import { errnoOf } from '../shared/errors.js'
import type { Manifest } from '../shared/manifest.js'
import { parentOf } from './copy-context.js'
import { listPaths, syncFailed } from './sync-errors.js'
import type { SyncItem } from './sync-types.js'
import { writingActions } from './sync-types.js'
import { makeDir, removeDirIfEmpty } from './sync-write.js'

/** At most this many entries are named when a directory cannot be replaced. */
const shownEntries = 5

/**
 * What the host directory `rel` holds (lstat only, never followed) beyond the files this sync
 * deletes: the reason it cannot be replaced by the session's file. Folders do not count: they
 * are removed with it (and made again by undo).
 */
export async function keptUnder(
  projectDir: string,
  rel: string,
  deleted: ReadonlySet<string>,
  kept: string[] = [],
): Promise<string[]> {
  let entries
  try {
    entries = await readdir(path.join(projectDir, rel), { withFileTypes: true })
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return kept
    throw syncFailed(`cannot list ${rel} in the project`, error, { path: rel })
  }
  for (const entry of entries) {
    if (kept.length > shownEntries) break
    const child = `${rel}/${entry.name}`
    if (entry.isDirectory()) await keptUnder(projectDir, child, deleted, kept)
    else if (!deleted.has(child)) kept.push(child)
  }
  return kept
}

/** `a/b/c` → `['a/b', 'a']`: the folders above a path, deepest first. */
function ancestors(rel: string): string[] {
  const out: string[] = []
  for (let dir = parentOf(rel); dir !== ''; dir = parentOf(dir)) out.push(dir)
  return out
}

/**
 * The folders this sync may leave empty, deepest first, with their permissions: above each
 * deletion (and a directory the session replaced with a file), never above something it
 * writes, only real directories the project has now. Each is removed if — and only if — it is
 * empty once the deletions are done.
 */
export async function emptiedDirs(
  projectDir: string,
  items: readonly { path: string; action: string; hostDir?: boolean }[],
): Promise<{ path: string; permissions: number }[]> {
  const needed = new Set<string>()
  for (const item of items)
    if (item.action !== 'delete') for (const dir of ancestors(item.path)) needed.add(dir)
  const candidates = new Set<string>()
  for (const item of items) {
    // The directory replaced by a file goes whole: its folders, empty once its files are deleted.
    if (item.hostDir === true) {
      candidates.add(item.path)
      for (const dir of await foldersUnder(projectDir, item.path)) candidates.add(dir)
    }
    if (item.action !== 'delete') continue
    for (const dir of ancestors(item.path)) if (!needed.has(dir)) candidates.add(dir)
  }
  const found: { path: string; permissions: number }[] = []
  for (const dir of candidates) {
    const stats = await lstat(path.join(projectDir, dir)).catch(() => undefined)
    if (stats?.isDirectory() === true) found.push({ path: dir, permissions: stats.mode & 0o7777 })
  }
  return found.sort((a, b) => depth(b.path) - depth(a.path) || (a.path < b.path ? -1 : 1))
}

/** Every folder below `rel` on the host (lstat only: a link to a folder is not one). */
async function foldersUnder(projectDir: string, rel: string): Promise<string[]> {
  const found: string[] = []
  const entries = await readdir(path.join(projectDir, rel), { withFileTypes: true }).catch(() => [])
  for (const entry of entries) {
    if (!entry.isDirectory()) continue
    const child = `${rel}/${entry.name}`
    found.push(child, ...(await foldersUnder(projectDir, child)))
  }
  return found
}

function depth(rel: string): number {
  return rel.split('/').length
}

/** Removes each folder (deepest first) that is empty now; the rest stay. */
export async function removeEmptied(
  projectDir: string,
  dirs: readonly { path: string }[],
): Promise<void> {
  for (const dir of dirs) await removeDirIfEmpty(path.join(projectDir, dir.path))
}

/**
 * Makes a removed folder again with its old permissions (setuid/setgid/sticky dropped, as for
 * files). Its parent exists: folders come back shallowest first.
 */
export async function restoreDir(
  projectDir: string,
  dir: string,
  permissions: number,
): Promise<void> {
  const full = path.join(projectDir, dir)
  if ((await lstat(full).catch(() => undefined)) !== undefined) return
  await makeDir(full)
  await chmod(full, permissions & 0o777)
}

/**
 * A host directory the session replaced with a file is replaced only when the plan deletes all
 * it holds: anything else in it (the user's files, ignored build output) makes it a conflict.
 */
export async function refuseKeptDirs(projectDir: string, items: SyncItem[]): Promise<void> {
  const deleted = new Set(items.filter((i) => i.action === 'delete').map((i) => i.path))
  for (const [index, item] of items.entries()) {
    if (item.hostDir !== true || !writingActions.has(item.action)) continue
    const kept = await keptUnder(projectDir, item.path, deleted)
    if (kept.length === 0) continue
    const { hostDir: _hostDir, forced: _forced, ...rest } = item
    items[index] = {
      ...rest,
      action: 'conflict',
      reason: `the host directory ${item.path} holds ${listPaths(kept)}, which the session does not delete; move them away and sync again`,
      risky: [],
    }
  }
}

/** Every directory that holds something in the manifest. */
export function directoriesOf(manifest: Manifest): Set<string> {
  const dirs = new Set<string>()
  for (const rel of Object.keys(manifest)) {
    for (let slash = rel.lastIndexOf('/'); slash > 0; slash = rel.lastIndexOf('/', slash - 1)) {
      const dir = rel.slice(0, slash)
      if (dirs.has(dir)) break
      dirs.add(dir)
    }
  }
  return dirs
}
