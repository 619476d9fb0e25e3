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
  const pairs = new Map<string, { old?: TreeChild; new?: TreeChild }>()
  for (const child of before) pairs.set(child.name, { old: child })
  for (const child of after) pairs.set(child.name, { ...pairs.get(child.name), new: child })
  const pending: Promise<void>[] = []
  for (const [name, pair] of pairs) {
    const path = prefix === '' ? name : `${prefix}/${name}`
    const oldSub = pair.old?.kind === 'tree' ? pair.old.oid : undefined
    const newSub = pair.new?.kind === 'tree' ? pair.new.oid : undefined
    if ((oldSub !== undefined || newSub !== undefined) && entersFilter(path, filter)) {
      pending.push(walk(reader, oldSub, newSub, path, filter, out))
    }
    const oldBlob = asBlob(pair.old)
    const newBlob = asBlob(pair.new)
    if (oldBlob === undefined && newBlob === undefined) continue
    if (oldBlob?.oid === newBlob?.oid && oldBlob?.mode === newBlob?.mode) continue
    if (!matchesFilter(path, filter)) continue
    const change: TreeChange = { path }
    if (oldBlob !== undefined) change.old = oldBlob
    if (newBlob !== undefined) change.new = newBlob
    out.push(change)
  }
  await Promise.all(pending)
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
