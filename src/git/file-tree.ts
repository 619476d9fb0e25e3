import type { GitFileMode } from '../shared/manifest.js'
import type { StatKey } from './mirror-entry.js'
import { encodeTree, type TreeEntry } from './tree-object.js'

/** One recorded file as of HEAD, with the stat it had when its content was last hashed. */
export interface TrackedFile {
  mode: GitFileMode
  oid: string
  size: number
  tooLarge: boolean
  /** Undefined when only the history is known (the stat cache was lost): rehash on sight. */
  stat: StatKey | undefined
  /** Modified so close to when it was hashed that a later write may share its timestamps. */
  racy: boolean
}

/** A directory of HEAD's tree; `oid` is undefined while the tree must be rebuilt. */
export interface DirNode {
  files: Map<string, TrackedFile>
  dirs: Map<string, DirNode>
  oid: string | undefined
}

export function createDir(): DirNode {
  return { files: new Map(), dirs: new Map(), oid: undefined }
}

export function findDir(root: DirNode, dir: string): DirNode | undefined {
  let node: DirNode | undefined = root
  if (dir !== '') for (const segment of dir.split('/')) node = node?.dirs.get(segment)
  return node
}

export function getFile(root: DirNode, rel: string): TrackedFile | undefined {
  const segments = rel.split('/')
  const name = segments.pop() as string
  let node: DirNode | undefined = root
  for (const segment of segments) node = node?.dirs.get(segment)
  return node?.files.get(name)
}

/**
 * Records `file` at `rel`, marking every tree on the way dirty. A file in the way of a parent
 * directory, or a directory where the file now is, is removed and returned.
 */
export function setFile(root: DirNode, rel: string, file: TrackedFile): [string, TrackedFile][] {
  const removed: [string, TrackedFile][] = []
  const segments = rel.split('/')
  const name = segments.pop() as string
  let node = root
  let prefix = ''
  for (const segment of segments) {
    node.oid = undefined
    prefix = prefix === '' ? segment : `${prefix}/${segment}`
    const inTheWay = node.files.get(segment)
    if (inTheWay !== undefined) {
      node.files.delete(segment)
      removed.push([prefix, inTheWay])
    }
    let next = node.dirs.get(segment)
    if (next === undefined) {
      next = createDir()
      node.dirs.set(segment, next)
    }
    node = next
  }
  node.oid = undefined
  const displaced = node.dirs.get(name)
  if (displaced !== undefined) {
    removed.push(...listFiles(displaced, rel))
    node.dirs.delete(name)
  }
  node.files.set(name, file)
  return removed
}

/** Removes the file at `rel`, or everything under the directory `rel`; returns what it removed. */
export function removePath(root: DirNode, rel: string): [string, TrackedFile][] {
  const segments = rel === '' ? [] : rel.split('/')
  const name = segments.pop()
  const trail: DirNode[] = [root]
  let node = root
  for (const segment of segments) {
    const next = node.dirs.get(segment)
    if (next === undefined) return []
    trail.push(next)
    node = next
  }
  let removed: [string, TrackedFile][]
  const file = name === undefined ? undefined : node.files.get(name)
  if (name === undefined) {
    removed = listFiles(root, '')
    root.files.clear()
    root.dirs.clear()
  } else if (file !== undefined) {
    node.files.delete(name)
    removed = [[rel, file]]
  } else {
    const dir = node.dirs.get(name)
    if (dir === undefined) return []
    removed = listFiles(dir, rel)
    node.dirs.delete(name)
  }
  for (const dir of trail) dir.oid = undefined
  return removed
}

/** Every file under `node`, with paths prefixed by `prefix`. */
/** How many files the subtree holds. */
export function countFiles(node: DirNode): number {
  let count = node.files.size
  for (const sub of node.dirs.values()) count += countFiles(sub)
  return count
}

export function listFiles(node: DirNode, prefix: string): [string, TrackedFile][] {
  const out: [string, TrackedFile][] = []
  const visit = (dir: DirNode, base: string): void => {
    for (const [name, file] of dir.files) out.push([base === '' ? name : `${base}/${name}`, file])
    for (const [name, sub] of dir.dirs) visit(sub, base === '' ? name : `${base}/${name}`)
  }
  visit(node, prefix)
  return out
}

/**
 * Writes the trees of dirty directories, children first, and returns the root tree's id. Clean
 * subtrees keep their cached ids and are not visited; empty directories are left out, as in git.
 */
export async function buildTrees(
  node: DirNode,
  write: (tree: Buffer) => Promise<string>,
  isRoot = true,
): Promise<string | undefined> {
  if (node.oid !== undefined) return node.oid
  const entries: TreeEntry[] = []
  for (const [name, file] of node.files) entries.push({ name, mode: file.mode, oid: file.oid })
  const subdirs = [...node.dirs]
  const oids = await Promise.all(subdirs.map(([, dir]) => buildTrees(dir, write, false)))
  subdirs.forEach(([name], i) => {
    const oid = oids[i]
    if (oid === undefined) node.dirs.delete(name)
    else entries.push({ name, mode: 0o40000, oid })
  })
  if (entries.length === 0 && !isRoot) return undefined
  node.oid = await write(encodeTree(entries))
  return node.oid
}
