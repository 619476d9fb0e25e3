import { createObjectFs, type ObjectFs } from './tree-fs.js'
import type { GitFileMode } from '../shared/manifest.js'
import { decodeTreeName } from './tree-name.js'
import { SafeCoderError } from '../shared/errors.js'
import { objectStoreFor, type ObjectStore } from './object-read.js'
import { readAs, readCommitFields, readStoredTree } from './object-read-typed.js'

/** Where a session's history lives: the bare audit gitdir and the mirror the sandbox sees. */
export interface RepoLocation {
  gitdir: string
  workDir: string
  /**
   * The session's object cache. Keep one per session and pass it to every call: pack indexes,
   * parsed trees and commits are then read once, not per diff (all bounded). Safe to share,
   * since packs and objects never change.
   */
  objectCache?: object
}

/** One file of a tree, flattened to its project-relative path. */
export interface BlobEntry {
  oid: string
  mode: GitFileMode
}

/** A named child of one tree object. */
export interface TreeChild {
  name: string
  oid: string
  kind: 'tree' | 'blob'
  mode: GitFileMode | 0o40000
}

/** What one read operation shares: the gitdir, our object store and isomorphic-git's cache. */
export interface RepoReader {
  gitdir: string
  /** For the isomorphic-git calls left on the read side (refs, short ids, tree writes). */
  cache: object
  fs: ObjectFs
  objects: ObjectStore
}

/** The commit fields the read side uses. */
export interface CommitRecord {
  oid: string
  tree: string
  parents: string[]
  message: string
  timestamp: number
}

const blobModes: Record<string, GitFileMode> = {
  '100644': 0o100644,
  '100755': 0o100755,
  '120000': 0o120000,
}

// Caches live in the store the cache object owns: a fresh one per call unless given one.
export function openReader(repo: Pick<RepoLocation, 'gitdir' | 'objectCache'>): RepoReader {
  const cache = repo.objectCache ?? {}
  const objects = objectStoreFor(repo.gitdir, cache)
  return { gitdir: repo.gitdir, cache, fs: createObjectFs(), objects }
}

// Tree names come from hostile history: anything that could climb or hide a path is refused.
export async function readTreeChildren(reader: RepoReader, oid: string): Promise<TreeChild[]> {
  const key = `children:${oid}`
  const cached = reader.objects.parsed.get(key) as TreeChild[] | undefined
  if (cached !== undefined) return cached.slice()
  const tree = await guard(reader, oid, () => readStoredTree(reader.objects, oid))
  const children: TreeChild[] = []
  for (const stored of tree) {
    // Names git refuses (a nested `.git`, …) are stored escaped by the write side (tree-name.ts).
    const name = decodeTreeName(stored.name)
    if (!isSafeSegment(name)) {
      throw new SafeCoderError(
        'PATH_REJECTED',
        `Tree ${oid} in ${reader.gitdir} holds an unsafe name ${JSON.stringify(name)}.`,
        { hint: 'The audit repository was not written by Safe Coder; do not trust it.' },
      )
    }
    if (stored.mode === '040000') {
      children.push({ name, oid: stored.oid, kind: 'tree', mode: 0o40000 })
      continue
    }
    const mode = blobModes[stored.mode]
    if (mode !== undefined) children.push({ name, oid: stored.oid, kind: 'blob', mode })
  }
  reader.objects.parsed.set(key, children)
  return children.slice()
}

// Blobs in the audit repo are capped by the write side; the caller decides what to do with size.
export async function readBlobBytes(reader: RepoReader, oid: string): Promise<Uint8Array> {
  // A copy: the store may keep the object, and callers are free to change what they get.
  return new Uint8Array(await guard(reader, oid, () => readAs(reader.objects, oid, 'blob')))
}

// Timestamps are the committer's: that is when the tool call was recorded.
export async function readCommitRecord(reader: RepoReader, oid: string): Promise<CommitRecord> {
  const commit = await guard(reader, oid, () => readCommitFields(reader.objects, oid))
  return {
    oid,
    tree: commit.tree,
    parents: commit.parents,
    message: commit.message,
    timestamp: commit.committerTime,
  }
}

/** Looks a path up in a tree without reading anything off the path. */
export async function findEntry(
  reader: RepoReader,
  treeOid: string,
  path: string,
): Promise<BlobEntry | undefined> {
  const segments = path.split('/')
  let tree = treeOid
  for (const [index, segment] of segments.entries()) {
    const child = (await readTreeChildren(reader, tree)).find((entry) => entry.name === segment)
    if (child === undefined) return undefined
    if (index === segments.length - 1) {
      return child.kind === 'blob' ? { oid: child.oid, mode: child.mode as GitFileMode } : undefined
    }
    if (child.kind !== 'tree') return undefined
    tree = child.oid
  }
  return undefined
}

function isSafeSegment(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0')
}

async function guard<T>(reader: RepoReader, oid: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read()
  } catch (error) {
    if (error instanceof SafeCoderError) throw error
    const code = (error as { code?: unknown }).code
    if (code === 'NotFoundError') {
      throw new SafeCoderError('NOT_FOUND', `Object ${oid} is missing from ${reader.gitdir}.`, {
        cause: error,
      })
    }
    throw new SafeCoderError('INTERNAL', `Cannot read object ${oid} from ${reader.gitdir}.`, {
      cause: error,
      hint: 'The audit repository may be damaged; run `safe-coder sessions` to inspect it.',
    })
  }
}
