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
/** Searches of the blob table's text before it is parsed into a map. */
const maxSearches = 64

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
  const table = `\n${(await readCapped(path.join(reader.gitdir, blobTableFile))) ?? ''}`
  // Placeholder lines are the few with a quote; every other line is only a size.
  for (let quote = table.indexOf('"'); quote !== -1; quote = table.indexOf('"', quote + 1)) {
    const { line, end } = lineAround(table, quote)
    const match = placeholderLine.exec(line)
    const file = match === null ? undefined : parseJson(match[2] ?? '')
    if (typeof file === 'string') keys.add(`${match?.[1] ?? ''} ${file}`)
    quote = end
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
    sizeOf: sizeLookup(table),
  }
}

/**
 * Sizes from the blob table (tens of thousands of lines for a big project). A diff asks for a
 * few, which a search of the text answers without parsing it; a caller that keeps asking (a
 * whole-history log) gets the table parsed once instead.
 */
function sizeLookup(table: string): (oid: string) => number | undefined {
  let searches = 0
  let sizes: Map<string, number> | undefined
  return (oid) => {
    if (sizes === undefined && ++searches > maxSearches) sizes = parseSizes(table)
    if (sizes !== undefined) return sizes.get(oid)
    for (let at = table.indexOf(`\n${oid} `); at !== -1; at = table.indexOf(`\n${oid} `, at + 1)) {
      const size = sizeLine.exec(lineAround(table, at + 1).line)
      if (size !== null) return Number(size[2])
    }
    return undefined
  }
}

function parseSizes(table: string): Map<string, number> {
  const sizes = new Map<string, number>()
  for (const line of table.split('\n')) {
    const size = sizeLine.exec(line)
    if (size !== null) sizes.set(size[1] ?? '', Number(size[2]))
  }
  return sizes
}

/** The line of `text` holding the character at `at`, and where it ends. */
function lineAround(text: string, at: number): { line: string; end: number } {
  const start = text.lastIndexOf('\n', at) + 1
  const newline = text.indexOf('\n', at)
  const end = newline === -1 ? text.length : newline
  return { line: text.slice(start, end), end }
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
