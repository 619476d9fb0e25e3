import { throwIfAborted } from '../shared/abort.js'
import { SafeCoderError } from '../shared/errors.js'
import type { Manifest } from '../shared/manifest.js'
import { readBranch, moveBranch } from './head-ref.js'
import { appendBlobInfo, type BlobInfo } from './blob-info.js'
import { formatMessage, encodeCommit } from './commit-object.js'
import { eachLimit } from './each-limit.js'
import { buildTrees, createDir, setFile } from './file-tree.js'
import { writeLooseBlobFrom, writeLooseObject } from './loose-object.js'
import {
  readMirrorEntry,
  tooLargePlaceholder,
  type LargeFileSink,
  type SkipReason,
} from './mirror-entry.js'
import { walkMirror } from './mirror-walk.js'
import { createPackWriter } from './pack-writer.js'
import { keepState } from './repo-state.js'
import { isRacy, saveStatCache } from './stat-cache.js'
import type { AuditRepo } from './audit-repo.js'

/** Files read at once; libuv's four threads do the I/O and compression. */
const concurrency = 16

export interface SnapshotOptions {
  /** Subject line of commit 0. */
  message: string
  trailers?: Record<string, string>
  signal?: AbortSignal
  /** Called after each path is recorded, with the number of paths found. */
  onProgress?: (done: number, total: number) => void
  /** Called for each file whose content is read (progress, and proof of what was read). */
  onRead?: (path: string) => void
}

export interface SnapshotResult {
  commit: string
  manifest: Manifest
  skipped: { path: string; reason: SkipReason }[]
}

// Commit 0 in one pack file: per-object files would dominate the cost on slow disks.
export async function takeSnapshot(
  repo: AuditRepo,
  options: SnapshotOptions,
): Promise<SnapshotResult> {
  const { signal } = options
  throwIfAborted(signal, 'The snapshot')
  if ((await readBranch(repo.gitdir)) !== undefined) {
    throw new SafeCoderError(
      'INTERNAL',
      `The audit repository ${repo.gitdir} already has a snapshot.`,
      {
        hint: 'Record later changes with a commit, not a new snapshot.',
      },
    )
  }
  const message = formatMessage(options.message, options.trailers)
  const walked = await walkMirror(repo.workDir, '', signal)
  const skipped = [...walked.skipped]
  const root = createDir()
  const manifest: Manifest = {}
  const infos: BlobInfo[] = []
  const pack = await createPackWriter(repo.gitdir)
  // Large files stream into loose objects beside the pack, which takes only whole buffers.
  const storeLarge: LargeFileSink = (handle, size) => writeLooseBlobFrom(repo.gitdir, handle, size)
  let done = 0
  try {
    await eachLimit(
      walked.paths,
      concurrency,
      async ({ rel }) => {
        const seenAt = Date.now()
        const entry = await readMirrorEntry(repo, rel, storeLarge)
        if (entry.kind === 'blob' || entry.kind === 'stored' || entry.kind === 'too-large') {
          const tooLarge = entry.kind === 'too-large'
          if (!tooLarge) options.onRead?.(rel)
          let oid: string
          let size: number
          if (entry.kind === 'stored') {
            ;({ oid, size } = entry)
          } else {
            const content = tooLarge
              ? tooLargePlaceholder(rel, entry.stat.size, repo.maxFileBytes)
              : entry.content
            oid = await pack.add('blob', content)
            size = tooLarge ? entry.stat.size : content.byteLength
          }
          manifest[rel] = tooLarge
            ? { oid, mode: entry.mode, size, tooLarge }
            : { oid, mode: entry.mode, size }
          infos.push(tooLarge ? { oid, size, tooLargePath: rel } : { oid, size })
          setFile(root, rel, {
            mode: entry.mode,
            oid,
            size,
            tooLarge,
            stat: entry.stat,
            racy: isRacy(entry.stat, seenAt),
          })
        } else if (entry.kind === 'skip') {
          skipped.push({ path: rel, reason: entry.reason })
        } else {
          skipped.push({ path: rel, reason: 'vanished' })
        }
        options.onProgress?.(++done, walked.paths.length)
      },
      signal,
    )
    const tree = (await buildTrees(root, (content) => pack.add('tree', content))) as string
    throwIfAborted(signal, 'The snapshot')
    await pack.finish()
    await appendBlobInfo(repo.gitdir, infos)
    const commit = await writeLooseObject(
      repo.gitdir,
      'commit',
      encodeCommit(tree, undefined, message),
    )
    await moveBranch(repo.gitdir, commit)
    const state = { head: commit, root, dirty: new Set<string>() }
    keepState(repo, state)
    await saveStatCache(repo.gitdir, state)
    skipped.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    return { commit, manifest, skipped }
  } catch (error) {
    await pack.discard()
    throw error
  }
}
