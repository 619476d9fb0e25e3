import { appendFile, readFile } from 'node:fs/promises'
import path from 'node:path'
import { errnoOf } from '../shared/errors.js'
import type { GitFileMode } from '../shared/manifest.js'
import {
  findDir,
  getFile,
  removePath,
  setFile,
  type DirNode,
  type TrackedFile,
} from './file-tree.js'
import type { StatKey } from './mirror-entry.js'

export type StatTuple = [number, number, number, number, number]
export type FileRow = [string, GitFileMode, string, number, number, StatTuple | 0]

/**
 * One commit's (or one stat refresh's) changes to the cached state, a line of the journal that
 * follows the cache file: files set, files gone, and the tree ids of their directories.
 */
interface JournalRecord {
  /** The generation of the cache file this record extends; others are leftovers, ignored. */
  g: string
  /** HEAD before and after. */
  p: string
  h: string
  f: FileRow[]
  r: string[]
  t: [string, string][]
}

const racyFlag = 1
const tooLargeFlag = 2

export function statJournalFile(gitdir: string): string {
  return path.join(gitdir, 'safe-coder', 'stat-cache.journal')
}

export function toFileRow(rel: string, file: TrackedFile): FileRow {
  const { stat } = file
  const flags = (file.racy ? racyFlag : 0) | (file.tooLarge ? tooLargeFlag : 0)
  const tuple: StatTuple | 0 =
    stat === undefined ? 0 : [stat.size, stat.mtimeMs, stat.ctimeMs, stat.ino, stat.mode]
  return [rel, file.mode, file.oid, file.size, flags, tuple]
}

export function fromFileRow([, mode, oid, size, flags, stat]: FileRow): TrackedFile {
  return {
    mode,
    oid,
    size,
    racy: (flags & racyFlag) !== 0,
    tooLarge: (flags & tooLargeFlag) !== 0,
    stat: stat === 0 ? undefined : toStatKey(stat),
  }
}

function toStatKey([size, mtimeMs, ctimeMs, ino, mode]: StatTuple): StatKey {
  return { size, mtimeMs, ctimeMs, ino, mode }
}

/**
 * Appends the state of `dirty` paths (and their directories' tree ids) as one line, so a commit
 * writes what it changed rather than the whole cache. Returns the bytes appended.
 */
export async function appendStatJournal(
  gitdir: string,
  generation: string,
  from: string,
  head: string,
  root: DirNode,
  dirty: ReadonlySet<string>,
): Promise<number> {
  const record: JournalRecord = { g: generation, p: from, h: head, f: [], r: [], t: [] }
  const dirs = new Set<string>()
  for (const rel of dirty) {
    const file = getFile(root, rel)
    if (file === undefined) record.r.push(rel)
    else record.f.push(toFileRow(rel, file))
    for (let slash = rel.lastIndexOf('/'); ; slash = rel.lastIndexOf('/', slash - 1)) {
      const dir = slash < 0 ? '' : rel.slice(0, slash)
      if (dirs.has(dir)) break
      dirs.add(dir)
      if (slash < 0) break
    }
  }
  for (const dir of dirs) {
    const oid = findDir(root, dir)?.oid
    if (oid !== undefined) record.t.push([dir, oid])
  }
  const line = `${JSON.stringify(record)}\n`
  await appendFile(statJournalFile(gitdir), line)
  return Buffer.byteLength(line)
}

/**
 * Replays the journal's records of `generation` that chain on from `head`, in order. A line that
 * does not parse (a torn append after a kill) ends the replay; `torn` then asks for a rewrite
 * before anything is appended behind it.
 */
export async function replayStatJournal(
  gitdir: string,
  generation: string,
  head: string,
  root: DirNode,
): Promise<{ head: string; bytes: number; torn: boolean }> {
  let text: string
  try {
    text = await readFile(statJournalFile(gitdir), 'utf8')
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return { head, bytes: 0, torn: false }
    throw error
  }
  let start = 0
  while (start < text.length) {
    const end = text.indexOf('\n', start)
    const record = end < 0 ? undefined : parseRecord(text.slice(start, end))
    if (record === undefined) return { head, bytes: Buffer.byteLength(text), torn: true }
    start = end + 1
    if (record.g !== generation || record.p !== head) continue
    applyRecord(root, record)
    head = record.h
  }
  return { head, bytes: Buffer.byteLength(text), torn: false }
}

function parseRecord(line: string): JournalRecord | undefined {
  try {
    const record = JSON.parse(line) as unknown
    return typeof record === 'object' && record !== null && 'f' in record && Array.isArray(record.f)
      ? (record as JournalRecord)
      : undefined
  } catch {
    return undefined
  }
}

// Setting and removing marks every directory on the way for a rebuild; the recorded tree ids
// then restore those that were built, so a directory left without one is rebuilt when next used.
function applyRecord(root: DirNode, record: JournalRecord): void {
  for (const rel of record.r) if (getFile(root, rel) !== undefined) removePath(root, rel)
  for (const row of record.f) setFile(root, row[0], fromFileRow(row))
  for (const [dir, oid] of record.t) {
    const node = findDir(root, dir)
    if (node !== undefined) node.oid = oid
  }
}
