import type { GitFileMode } from '../shared/manifest.js'
import { readTreeChildren, type BlobEntry, type RepoReader, type TreeChild } from './tree-read.js'

/** One path whose blob differs between two trees; a missing side is an add or a delete. */
export interface TreeChange {
  path: string
  old?: BlobEntry
  new?: BlobEntry
}

/** Which paths a diff is limited to: each is a file or a directory prefix. */
export type PathFilter = readonly string[] | undefined

// Equal subtree ids are skipped unread, so a diff costs the depth of the changes, not the tree size.
export async function diffTrees(
  reader: RepoReader,
  oldTree: string | undefined,
  newTree: string | undefined,
  filter?: PathFilter,
): Promise<TreeChange[]> {
  const changes: TreeChange[] = []
  await walk(reader, oldTree, newTree, '', normalise(filter), changes)
  return changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

async function walk(
  reader: RepoReader,
  oldTree: string | undefined,
  newTree: string | undefined,
  prefix: string,
  filter: string[] | undefined,
  out: TreeChange[],
): Promise<void> {
  if (oldTree === newTree) return
  const [before, after] = await Promise.all([
    oldTree === undefined ? [] : readTreeChildren(reader, oldTree),
    newTree === undefined ? [] : readTreeChildren(reader, newTree),
  ])
  const pending: Promise<void>[] = []
  const visit = (name: string, old: TreeChild | undefined, next: TreeChild | undefined): void => {
    const path = prefix === '' ? name : `${prefix}/${name}`
    const oldSub = old?.kind === 'tree' ? old.oid : undefined
    const newSub = next?.kind === 'tree' ? next.oid : undefined
    if ((oldSub !== undefined || newSub !== undefined) && entersFilter(path, filter)) {
      pending.push(walk(reader, oldSub, newSub, path, filter, out))
    }
    const oldBlob = asBlob(old)
    const newBlob = asBlob(next)
    if (oldBlob === undefined && newBlob === undefined) return
    if (oldBlob?.oid === newBlob?.oid && oldBlob?.mode === newBlob?.mode) return
    if (!matchesFilter(path, filter)) return
    const change: TreeChange = { path }
    if (oldBlob !== undefined) change.old = oldBlob
    if (newBlob !== undefined) change.new = newBlob
    out.push(change)
  }
  // A merge of the two sorted listings: unchanged entries (nearly all of a big directory) cost
  // one comparison each and allocate nothing.
  const olds = byName(before)
  const news = byName(after)
  let i = 0
  let j = 0
  while (i < olds.length || j < news.length) {
    const old = olds[i]
    const next = news[j]
    if (old !== undefined && next !== undefined && old.name === next.name) {
      i++
      j++
      if (old.oid !== next.oid || old.mode !== next.mode) visit(old.name, old, next)
    } else if (next === undefined || (old !== undefined && old.name < next.name)) {
      i++
      if (old !== undefined) visit(old.name, old, undefined)
    } else {
      j++
      visit(next.name, undefined, next)
    }
  }
  await Promise.all(pending)
}

/** Children in `<` order of their names: as stored, unless decoding escaped names moved some. */
function byName(children: TreeChild[]): TreeChild[] {
  for (let k = 1; k < children.length; k++) {
    if (!((children[k - 1]?.name ?? '') < (children[k]?.name ?? ''))) {
      return children.slice().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    }
  }
  return children
}

function asBlob(child: TreeChild | undefined): BlobEntry | undefined {
  return child?.kind === 'blob' ? { oid: child.oid, mode: child.mode as GitFileMode } : undefined
}

function normalise(filter: PathFilter): string[] | undefined {
  if (filter === undefined || filter.length === 0) return undefined
  const paths = filter.map((path) => path.replace(/^(\.\/)+/, '').replace(/\/+$/, ''))
  return paths.some((path) => path === '' || path === '.') ? undefined : paths
}

/** The path itself, or anything under a filtered directory. */
export function matchesFilter(path: string, filter: readonly string[] | undefined): boolean {
  return filter === undefined || filter.some((p) => path === p || path.startsWith(`${p}/`))
}

function entersFilter(dir: string, filter: string[] | undefined): boolean {
  return matchesFilter(dir, filter) || filter?.some((p) => p.startsWith(`${dir}/`)) === true
}
