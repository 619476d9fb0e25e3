import { open } from 'node:fs/promises'
import path from 'node:path'
import { errnoOf } from '../shared/errors.js'
import { findEntry, readCommitRecord, type RepoReader } from './tree-read.js'

/** JSON side file listing too-large paths (all commits, or per commit id). */
export const tooLargeFile = 'safe-coder-too-large.json'
/** The write side's blob table: `<oid> <size>` lines, plus a JSON path for a placeholder. */
export const blobTableFile = path.join('safe-coder', 'blobs')

const maxSideFileBytes = 64 * 1024 * 1024
const placeholderLine = /^([0-9a-f]{40}) \d+ (".*")$/
const sizeLine = /^([0-9a-f]{40}) (\d{1,15})$/

/** Which blobs are placeholders for files over the size cap rather than their content. */
export interface Placeholders {
  has(path: string, oid: string): boolean
  /** A recorded blob's size from the blob table, so a huge one is summarised unread. */
  sizeOf(oid: string): number | undefined
}

// Reads whichever record the write side keeps; every shape names the path and pins the blob.
export async function readPlaceholders(reader: RepoReader): Promise<Placeholders> {
  const paths = new Set<string>()
  const keys = new Set<string>()
  const oids = new Set<string>()
  const sizes = new Map<string, number>()
  const table = await readCapped(path.join(reader.gitdir, blobTableFile))
  for (const line of table?.split('\n') ?? []) {
    if (!line.includes('"')) {
      const blob = sizeLine.exec(line)
      if (blob !== null) sizes.set(blob[1] ?? '', Number(blob[2]))
      continue
    }
    const match = placeholderLine.exec(line)
    const file = match === null ? undefined : parseJson(match[2] ?? '')
    if (typeof file === 'string') keys.add(`${match?.[1] ?? ''} ${file}`)
  }
  const text = await readCapped(path.join(reader.gitdir, tooLargeFile))
  const listed = text === undefined ? undefined : parseJson(text)
  if (Array.isArray(listed)) {
    for (const item of listed) {
      if (typeof item === 'string') paths.add(item)
      else if (isRecord(item)) await addCommitList(reader, item.commit, item.paths, oids)
    }
  } else if (isRecord(listed)) {
    for (const [commit, list] of Object.entries(listed)) {
      await addCommitList(reader, commit, list, oids)
    }
  }
  return {
    has: (file, oid) => keys.has(`${oid} ${file}`) || oids.has(oid) || paths.has(file),
    sizeOf: (oid) => sizes.get(oid),
  }
}

async function addCommitList(
  reader: RepoReader,
  commit: unknown,
  list: unknown,
  oids: Set<string>,
): Promise<void> {
  if (typeof commit !== 'string' || !/^[0-9a-f]{40}$/.test(commit) || !Array.isArray(list)) return
  const tree = await readCommitRecord(reader, commit).then(
    (record) => record.tree,
    () => undefined,
  )
  if (tree === undefined) return
  for (const file of list) {
    if (typeof file !== 'string') continue
    const entry = await findEntry(reader, tree, file).catch(() => undefined)
    if (entry !== undefined) oids.add(entry.oid)
  }
}

async function readCapped(file: string): Promise<string | undefined> {
  let handle
  try {
    handle = await open(file, 'r')
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined
    throw error
  }
  try {
    const { size } = await handle.stat()
    if (size > maxSideFileBytes) return undefined
    const buffer = Buffer.alloc(size)
    const { bytesRead } = await handle.read(buffer, 0, size, 0)
    return buffer.subarray(0, bytesRead).toString('utf8')
  } finally {
    await handle.close()
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
