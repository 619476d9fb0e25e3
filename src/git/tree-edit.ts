import { writeTree } from 'isomorphic-git'
import type { TreeEntry } from 'isomorphic-git'
import { encodeTreeName } from './tree-name.js'
import { SafeCoderError } from '../shared/errors.js'
import { readTreeChildren, type BlobEntry, type RepoReader } from './tree-read.js'

/** New content for a path (`null` deletes it). */
export type TreeEdits = ReadonlyMap<string, BlobEntry | null>

// Only the trees on the edited paths are rewritten; every other subtree keeps its id.
export async function editTree(
  reader: RepoReader,
  rootTree: string,
  edits: TreeEdits,
): Promise<string> {
  const oid = await rewrite(reader, rootTree, '', [...edits])
  return oid ?? (await writeTree({ fs: reader.fs, gitdir: reader.gitdir, tree: [] }))
}

async function rewrite(
  reader: RepoReader,
  treeOid: string | undefined,
  prefix: string,
  edits: [string, BlobEntry | null][],
): Promise<string | undefined> {
  const children = treeOid === undefined ? [] : await readTreeChildren(reader, treeOid)
  const entries = new Map<string, TreeEntry>(
    children.map((child) => [
      child.name,
      { path: child.name, oid: child.oid, type: child.kind, mode: child.mode.toString(8) },
    ]),
  )
  const nested = new Map<string, [string, BlobEntry | null][]>()
  const direct: [string, BlobEntry | null][] = []
  for (const [path, entry] of edits) {
    const slash = path.indexOf('/')
    if (slash < 0) {
      direct.push([path, entry])
      continue
    }
    const name = path.slice(0, slash)
    const list = nested.get(name) ?? []
    list.push([path.slice(slash + 1), entry])
    nested.set(name, list)
  }
  for (const [name, list] of nested) {
    const existing = entries.get(name)
    const sub = await rewrite(
      reader,
      existing?.type === 'tree' ? existing.oid : undefined,
      join(prefix, name),
      list,
    )
    if (sub !== undefined) {
      if (existing !== undefined && existing.type !== 'tree' && !isDeleted(direct, name)) {
        throw conflict(join(prefix, name))
      }
      entries.set(name, { path: name, oid: sub, type: 'tree', mode: '040000' })
    } else if (existing?.type === 'tree') entries.delete(name)
  }
  for (const [name, entry] of direct) {
    const existing = entries.get(name)
    if (entry === null) {
      if (existing?.type !== 'tree') entries.delete(name)
      continue
    }
    if (existing?.type === 'tree') throw conflict(join(prefix, name))
    entries.set(name, { path: name, oid: entry.oid, type: 'blob', mode: entry.mode.toString(8) })
  }
  if (entries.size === 0) return undefined
  // Children were read with their real names; store them the way the write side does.
  const tree = [...entries.values()].map((e) => ({ ...e, path: encodeTreeName(e.path) }))
  return writeTree({ fs: reader.fs, gitdir: reader.gitdir, tree })
}

function isDeleted(direct: [string, BlobEntry | null][], name: string): boolean {
  return direct.some(([path, entry]) => path === name && entry === null)
}

function join(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}/${name}`
}

function conflict(path: string): SafeCoderError {
  return new SafeCoderError(
    'USAGE',
    `Cannot revert: ${path} is a directory in one version and a file in the other.`,
    { hint: 'Revert the commits that changed it one at a time, newest first.' },
  )
}
