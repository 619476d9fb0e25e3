import { throwIfAborted } from '../shared/abort.js'
import { readHead, serialised, type AuditRepo } from './audit-repo.js'
import { appendBlobInfo } from './blob-info.js'
import { encodeCommit, formatMessage } from './commit-object.js'
import { buildTrees, type TrackedFile } from './file-tree.js'
import { moveBranch } from './head-ref.js'
import { writeLooseObject } from './loose-object.js'
import type { SkipReason } from './mirror-entry.js'
import { createMirrorRefresh } from './mirror-refresh.js'
import { forgetState, loadState } from './repo-state.js'
import { saveStatCache } from './stat-cache.js'

export interface CommitChangesOptions {
  /** Subject line, e.g. the tool and its truncated arguments. */
  message: string
  /** Git trailers, e.g. Session, Call, Exit, Duration. */
  trailers?: Record<string, string>
  /** Mirror-relative paths the tool reports it touched (deleted ones included). */
  paths?: string[]
  /** Also find changes by a stat-cache scan of the whole mirror (after shell commands). */
  scan?: boolean
  /** Commit even when nothing changed (an agent's read-only call is still part of the record). */
  allowEmpty?: boolean
  signal?: AbortSignal
  /** Called for each file whose content is read (progress, and proof of what was read). */
  onRead?: (path: string) => void
  /** Paths found but not recorded, reported also when nothing changed (so no commit is made). */
  onSkipped?: (skipped: { path: string; reason: SkipReason }[]) => void
}

export type ChangeStatus = 'added' | 'modified' | 'deleted' | 'typechange'

export interface CommitChangesResult {
  commit: string
  /** Sorted by path. */
  changed: { path: string; status: ChangeStatus }[]
  /** Paths found but not recorded (special files, unsafe names, unreadable). */
  skipped: { path: string; reason: SkipReason }[]
}

/** Test seam: runs after every object of the commit is written, before HEAD moves. */
export interface CommitHooks {
  beforeHeadMoves?: () => Promise<void> | void
}

// One commit per tool call, touching only what changed: no full rehash, no full tree rebuild.
export async function recordChanges(
  repo: AuditRepo,
  options: CommitChangesOptions,
  hooks: CommitHooks = {},
): Promise<CommitChangesResult | undefined> {
  return serialised(repo, async () => {
    const { signal } = options
    throwIfAborted(signal, 'The commit')
    const message = formatMessage(options.message, options.trailers)
    const head = await readHead(repo)
    const state = await loadState(repo, head)
    try {
      const refresh = createMirrorRefresh(repo, state, options)
      const reported = new Set<string>()
      for (const path of options.paths ?? []) {
        const rel = normalisePath(path)
        if (rel === undefined) refresh.skipped.push({ path, reason: 'unsafe-name' })
        else reported.add(rel)
      }
      if (options.scan === true) await refresh.refreshPath('')
      else await Promise.all([...reported].map((rel) => refresh.refreshPath(rel)))
      const changed = statuses(refresh.changes)
      const skipped = refresh.skipped.sort((a, b) => compare(a.path, b.path))
      if (skipped.length > 0) options.onSkipped?.(skipped)
      if (changed.length === 0 && options.allowEmpty !== true) {
        if (refresh.statsUpdated) await saveStatCache(repo.gitdir, state)
        return undefined
      }
      throwIfAborted(signal, 'The commit')
      const tree = (await buildTrees(state.root, (content) =>
        writeLooseObject(repo.gitdir, 'tree', content),
      )) as string
      await appendBlobInfo(repo.gitdir, refresh.infos)
      const commit = await writeLooseObject(
        repo.gitdir,
        'commit',
        encodeCommit(tree, head, message),
      )
      throwIfAborted(signal, 'The commit')
      await hooks.beforeHeadMoves?.()
      await moveBranch(repo.gitdir, commit)
      state.head = commit
      await saveStatCache(repo.gitdir, state)
      return { commit, changed, skipped }
    } catch (error) {
      forgetState(repo)
      throw error
    }
  })
}

function statuses(
  changes: Map<string, { before: TrackedFile | undefined; after: TrackedFile | undefined }>,
): CommitChangesResult['changed'] {
  const changed: CommitChangesResult['changed'] = []
  for (const [path, { before, after }] of changes) {
    if (before === undefined && after === undefined) continue
    if (before === undefined) changed.push({ path, status: 'added' })
    else if (after === undefined) changed.push({ path, status: 'deleted' })
    else if ((before.mode === 0o120000) !== (after.mode === 0o120000)) {
      changed.push({ path, status: 'typechange' })
    } else if (before.oid !== after.oid || before.mode !== after.mode) {
      changed.push({ path, status: 'modified' })
    }
  }
  return changed.sort((a, b) => compare(a.path, b.path))
}

/** A reported path as a mirror-relative POSIX path, or undefined if it could leave the root. */
function normalisePath(reported: string): string | undefined {
  const rel = reported.replace(/^(\.\/)+/, '').replace(/\/+$/, '')
  const segments = rel === '' || rel === '.' ? [] : rel.split('/')
  const unsafe =
    reported.startsWith('/') ||
    reported.includes('\0') ||
    segments.some((segment) => segment === '' || segment === '.' || segment === '..')
  return unsafe ? undefined : segments.join('/')
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
