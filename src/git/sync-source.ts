import type { Manifest, ManifestEntry, SyncSource } from '../shared/manifest.js'
import type { AuditRepo } from './audit-repo.js'
import { readFlatTree } from './history-tree.js'
import { streamBlobFrom } from './loose-stream.js'
import { openReader, readBlobBytes } from './tree-read.js'

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
