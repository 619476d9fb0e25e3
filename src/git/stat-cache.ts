import { randomBytes } from 'node:crypto'
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { errnoOf } from '../shared/errors.js'
import { createDir, findDir, setFile, type DirNode } from './file-tree.js'
import type { StatKey } from './mirror-entry.js'
import {
  appendStatJournal,
  fromFileRow,
  replayStatJournal,
  statJournalFile,
  toFileRow,
  type FileRow,
} from './stat-journal.js'

/** HEAD's files and tree ids, with the stat of each file when it was hashed. */
export interface RepoState {
  head: string
  root: DirNode
  /** Files set or removed since the cache on disk was last brought up to date. */
  dirty: Set<string>
  /** What the cache on disk holds, when this state was loaded from or saved to it. */
  saved?: SavedCache | undefined
}

interface SavedCache {
  head: string
  generation: string
  cacheBytes: number
  journalBytes: number
}

interface CacheFile {
  version: number
  head: string
  /** The journal generation that extends this file; absent in caches written without one. */
  journal?: string
  files: FileRow[]
  trees: [string, string][]
}

/** The journal is folded into a new cache file once it outgrows a quarter of it. */
const minCompactBytes = 256 * 1024

export function statCacheFile(gitdir: string): string {
  return path.join(gitdir, 'safe-coder', 'stat-cache.json')
}

/** The cached state if it belongs to `head`; a missing, torn or stale cache is undefined. */
export async function loadStatCache(gitdir: string, head: string): Promise<RepoState | undefined> {
  let text: string
  let cache: CacheFile
  try {
    text = await readFile(statCacheFile(gitdir), 'utf8')
    cache = JSON.parse(text) as CacheFile
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || error instanceof SyntaxError) return undefined
    throw error
  }
  if (cache.version !== 1) return undefined
  const root = createDir()
  for (const row of cache.files) setFile(root, row[0], fromFileRow(row))
  for (const [dir, oid] of cache.trees) {
    const node = findDir(root, dir)
    if (node !== undefined) node.oid = oid
  }
  if (cache.journal === undefined) {
    return cache.head === head ? { head, root, dirty: new Set() } : undefined
  }
  const replayed = await replayStatJournal(gitdir, cache.journal, cache.head, root)
  if (replayed.head !== head) return undefined
  const saved: SavedCache = {
    head,
    generation: cache.journal,
    cacheBytes: text.length,
    journalBytes: replayed.bytes,
  }
  return { head, root, dirty: new Set(), saved: replayed.torn ? undefined : saved }
}

/**
 * Brings the cache on disk up to `state`: one journal line with the dirty paths when the disk
 * holds the state they were changed from, else a whole new cache file (temp + rename) and an
 * emptied journal. It is only a cache, so nothing is fsynced.
 */
export async function saveStatCache(gitdir: string, state: RepoState): Promise<void> {
  const { saved } = state
  if (
    saved !== undefined &&
    saved.journalBytes <= Math.max(minCompactBytes, saved.cacheBytes / 4)
  ) {
    const bytes = await appendStatJournal(
      gitdir,
      saved.generation,
      saved.head,
      state.head,
      state.root,
      state.dirty,
    )
    state.saved = { ...saved, head: state.head, journalBytes: saved.journalBytes + bytes }
    state.dirty.clear()
    return
  }
  state.saved = undefined
  const files: FileRow[] = []
  const trees: [string, string][] = []
  const visit = (node: DirNode, base: string): void => {
    if (node.oid !== undefined) trees.push([base, node.oid])
    for (const [name, file] of node.files) {
      files.push(toFileRow(base === '' ? name : `${base}/${name}`, file))
    }
    for (const [name, dir] of node.dirs) visit(dir, base === '' ? name : `${base}/${name}`)
  }
  visit(state.root, '')
  const generation = randomBytes(8).toString('hex')
  const cache: CacheFile = { version: 1, head: state.head, journal: generation, files, trees }
  const text = JSON.stringify(cache)
  const file = statCacheFile(gitdir)
  const temp = `${file}.${process.pid}.tmp`
  await writeFile(temp, text)
  try {
    await rename(temp, file)
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
  // Lines left by a kill before this point belong to the old generation and are skipped.
  await rm(statJournalFile(gitdir), { force: true })
  state.saved = { head: state.head, generation, cacheBytes: text.length, journalBytes: 0 }
  state.dirty.clear()
}

/** Same file as when it was hashed: any difference in these fields means read it again. */
export function sameStat(a: StatKey | undefined, b: StatKey): boolean {
  return (
    a !== undefined &&
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs &&
    a.ctimeMs === b.ctimeMs &&
    a.ino === b.ino &&
    a.mode === b.mode
  )
}

/**
 * True when a write after hashing could leave the timestamps unchanged: file systems stamp
 * times from a coarse clock (a tick on Linux, a second or two on some), so a file changed within
 * that window of being read is rehashed next time, as git does with "racily clean" entries.
 */
export function isRacy(stat: StatKey, seenAt: number): boolean {
  const window = stat.mtimeMs % 1000 === 0 ? 2000 : 100
  return Math.max(stat.mtimeMs, stat.ctimeMs) >= seenAt - window
}
