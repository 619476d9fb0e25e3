import { CorruptObjectError, toReadError } from './object-read-error.js'
import { parseCommit, parseTagTarget, parseTree, type ParsedCommit } from './object-read-parse.js'
import { readObject, type ObjectStore } from './object-read.js'

export type { ParsedCommit, StoredTreeEntry } from './object-read-parse.js'

const maxPeel = 8

// As git's `^{tree}` / `^{commit}`: tags are followed, and a commit stands for its tree.
/** Reads `oid` as an object of type `want`, following tags (and commits, for a tree). */
export async function readAs(
  store: ObjectStore,
  oid: string,
  want: 'tree' | 'commit' | 'blob',
): Promise<Uint8Array> {
  let current = oid
  for (let hop = 0; hop <= maxPeel; hop++) {
    const object = await readObject(store, current)
    if (object.type === want) return object.content
    try {
      if (object.type === 'tag') current = parseTagTarget(object.content)
      else if (object.type === 'commit' && want === 'tree')
        current = parseCommit(object.content).tree
      else throw new CorruptObjectError(`it is a ${object.type}, not a ${want}`)
    } catch (error) {
      throw toReadError(store.gitdir, current, error)
    }
  }
  throw toReadError(store.gitdir, oid, new CorruptObjectError('too many tags to follow'))
}

/** A tree's entries as stored, in isomorphic-git's order; unsafe names are refused. */
export async function readStoredTree(store: ObjectStore, oid: string) {
  const content = await readAs(store, oid, 'tree')
  try {
    return parseTree(content)
  } catch (error) {
    throw toReadError(store.gitdir, oid, error)
  }
}

/** A commit's tree, parents, message and committer time; cached, since commits never change. */
export async function readCommitFields(store: ObjectStore, oid: string): Promise<ParsedCommit> {
  const key = `commit:${oid}`
  const cached = store.parsed.get(key) as ParsedCommit | undefined
  if (cached !== undefined) return { ...cached, parents: [...cached.parents] }
  const content = await readAs(store, oid, 'commit')
  let commit: ParsedCommit
  try {
    commit = parseCommit(content)
  } catch (error) {
    throw toReadError(store.gitdir, oid, error)
  }
  store.parsed.set(key, commit)
  return { ...commit, parents: [...commit.parents] }
}
