import type { Manifest, ManifestEntry, SyncSource } from '../shared/manifest.js'
import type { AuditRepo } from './audit-repo.js'
import { readFlatTree } from './history-tree.js'
import { streamBlobFrom } from './loose-stream.js'
import { diffTrees } from './tree-diff.js'
import { openReader, readBlobBytes, readCommitRecord } from './tree-read.js'

/** The session's version of the project at `commit`, for sync-back: blobs from the history. */
export function gitSyncSource(repo: AuditRepo, commit: string): SyncSource {
  const reader = openReader({ gitdir: repo.gitdir })
  let entries: Promise<Manifest> | undefined
  return {
    entries: () => (entries ??= readFlatTree(repo.gitdir, commit).then((tree) => tree.manifest)),
    read: (_path: string, entry: ManifestEntry) => readBlobBytes(reader, entry.oid),
    // Large files are stored loose (streamed in as they were recorded), so they stream out too.
    stream: (_path: string, entry: ManifestEntry) => streamBlobFrom(repo.gitdir, entry.oid),
  }
}

/**
 * Paths whose content differs between two commits, found by comparing trees: unchanged
 * subtrees are skipped unread, so the cost follows the change, not the size of the project.
 */
export async function changedPaths(repo: AuditRepo, from: string, to: string): Promise<string[]> {
  const reader = openReader({ gitdir: repo.gitdir })
  const [a, b] = await Promise.all([readCommitRecord(reader, from), readCommitRecord(reader, to)])
  return (await diffTrees(reader, a.tree, b.tree)).map((change) => change.path)
}
