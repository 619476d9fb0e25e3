import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { errnoOf } from '../shared/errors.js'
import type { GitFileMode } from '../shared/manifest.js'
import { createDir, findDir, setFile, type DirNode } from './file-tree.js'
import type { StatKey } from './mirror-entry.js'

/** HEAD's files and tree ids, with the stat of each file when it was hashed. */
export interface RepoState {
  head: string
  root: DirNode
}

type StatTuple = [number, number, number, number, number]
type FileRow = [string, GitFileMode, string, number, number, StatTuple | 0]

interface CacheFile {
  version: number
  head: string
  files: FileRow[]
  trees: [string, string][]
}

const racyFlag = 1
const tooLargeFlag = 2

export function statCacheFile(gitdir: string): string {
  return path.join(gitdir, 'safe-coder', 'stat-cache.json')
}

/** The cached state if it belongs to `head`; a missing, torn or stale cache is undefined. */
export async function loadStatCache(gitdir: string, head: string): Promise<RepoState | undefined> {
  let cache: CacheFile
  try {
    cache = JSON.parse(await readFile(statCacheFile(gitdir), 'utf8')) as CacheFile
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || error instanceof SyntaxError) return undefined
    throw error
  }
  if (cache.version !== 1 || cache.head !== head) return undefined
  const root = createDir()
  for (const [rel, mode, oid, size, flags, stat] of cache.files) {
    setFile(root, rel, {
      mode,
      oid,
      size,
      racy: (flags & racyFlag) !== 0,
      tooLarge: (flags & tooLargeFlag) !== 0,
      stat: stat === 0 ? undefined : toStatKey(stat),
    })
  }
  for (const [dir, oid] of cache.trees) {
    const node = findDir(root, dir)
    if (node !== undefined) node.oid = oid
  }
  return { head, root }
}

/** Replaces the cache file atomically (temp + rename); it is only a cache, so no fsync. */
export async function saveStatCache(gitdir: string, state: RepoState): Promise<void> {
  const files: FileRow[] = []
  const trees: [string, string][] = []
  const visit = (node: DirNode, base: string): void => {
    if (node.oid !== undefined) trees.push([base, node.oid])
    for (const [name, file] of node.files) {
      const { stat } = file
      const flags = (file.racy ? racyFlag : 0) | (file.tooLarge ? tooLargeFlag : 0)
      const tuple: StatTuple | 0 =
        stat === undefined ? 0 : [stat.size, stat.mtimeMs, stat.ctimeMs, stat.ino, stat.mode]
      files.push([
        base === '' ? name : `${base}/${name}`,
        file.mode,
        file.oid,
        file.size,
        flags,
        tuple,
      ])
    }
    for (const [name, dir] of node.dirs) visit(dir, base === '' ? name : `${base}/${name}`)
  }
  visit(state.root, '')
  const cache: CacheFile = { version: 1, head: state.head, files, trees }
  const file = statCacheFile(gitdir)
  const temp = `${file}.${process.pid}.tmp`
  await writeFile(temp, JSON.stringify(cache))
  try {
    await rename(temp, file)
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
}

function toStatKey([size, mtimeMs, ctimeMs, ino, mode]: StatTuple): StatKey {
  return { size, mtimeMs, ctimeMs, ino, mode }
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
