import { diffTrees } from './tree-diff.js'
import { openReader, readCommitRecord } from './tree-read.js'

/**
 * Paths whose content differs between two commits, found by comparing trees: unchanged
 * subtrees are skipped unread, so the cost follows the change, not the size of the project.
 * Reads with Safe Coder's own object readers only: listing sessions loads nothing heavier.
 */
export async function changedPaths(
  repo: { gitdir: string },
  from: string,
  to: string,
): Promise<string[]> {
  const reader = openReader({ gitdir: repo.gitdir })
  const [a, b] = await Promise.all([readCommitRecord(reader, from), readCommitRecord(reader, to)])
  return (await diffTrees(reader, a.tree, b.tree)).map((change) => change.path)
}
