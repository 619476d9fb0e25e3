/**
 * The audit repository: a bare gitdir outside the mirror, written with our own object writers
 * and read with isomorphic-git. Nothing in the mirror is ever consulted as git configuration:
 * no hooks, filters, attributes or nested `.git` (which is stored as ordinary files, under an
 * escaped name: see tree-name.ts; readers of raw trees map names back with decodeTreePath).
 */
import { SafeCoderError } from '../shared/errors.js'
import type { Manifest } from '../shared/manifest.js'
import { openAuditRepo, readHead, type AuditRepo, type InitAuditRepoOptions } from './audit-repo.js'
import {
  recordChanges,
  type CommitChangesOptions,
  type CommitChangesResult,
} from './commit-changes.js'
import { readFlatTree } from './history-tree.js'
import { takeSnapshot, type SnapshotOptions, type SnapshotResult } from './snapshot.js'

export { defaultMaxFileBytes, type AuditRepo, type InitAuditRepoOptions } from './audit-repo.js'
export type { ChangeStatus, CommitChangesOptions, CommitChangesResult } from './commit-changes.js'
export { auditIdentity, parseTrailers } from './commit-object.js'
export type { SkipReason } from './mirror-entry.js'
export { blobOid } from './object-id.js'
export type { SnapshotOptions, SnapshotResult } from './snapshot.js'
export { decodeTreeName, decodeTreePath, encodeTreeName } from './tree-name.js'
// Log, diff and revert exports go below this line.
export {
  defaultMaxDiffBytes,
  diffCommits,
  formatStat,
  formatUnifiedDiff,
  type DiffOptions,
  type FileDiff,
  type Hunk,
} from './diff.js'
export {
  findRootCommit,
  readLog,
  type CommitInfo,
  type FileChange,
  type RepoLocation,
} from './log.js'
export { revertCommit, type RevertOptions, type RevertResult } from './revert.js'
export { changedPaths } from './changed-paths.js'
export { gitSyncSource } from './sync-source.js'

// Every session records into its own gitdir; reopening one keeps its history.
/**
 * Creates the bare audit repository at `gitdir` (or reopens it) for the mirror `workDir`.
 *
 * @throws SafeCoderError NOT_FOUND (no mirror), USAGE (gitdir and mirror overlap).
 */
export async function initAuditRepo(options: InitAuditRepoOptions): Promise<AuditRepo> {
  const { maxFileBytes } = options
  if (maxFileBytes !== undefined && !(Number.isSafeInteger(maxFileBytes) && maxFileBytes >= 0)) {
    throw new SafeCoderError('USAGE', `Invalid file size cap ${maxFileBytes}.`, {
      hint: 'Give the cap in bytes, as a whole number.',
    })
  }
  return openAuditRepo(options)
}

// Commit 0 is the merge base of sync-back: it must hold exactly what the sandbox started with.
/**
 * Records everything in the mirror as commit 0 (one pack file) and returns it with the base
 * manifest and the paths it did not record (special files, unsafe names, unreadable).
 *
 * @throws SafeCoderError COPY_FAILED (I/O), ABORTED, INTERNAL (already has a snapshot).
 */
export async function snapshot(repo: AuditRepo, options: SnapshotOptions): Promise<SnapshotResult> {
  return takeSnapshot(repo, options)
}

// The history must show every change, command by command, without rereading the whole mirror.
/**
 * Commits what changed since HEAD among `paths` (and, with `scan`, anywhere in the mirror).
 * Returns undefined when nothing changed, unless `allowEmpty` asks for a commit anyway.
 *
 * Reported paths that could leave the mirror (absolute, `..`, NUL) are skipped and reported.
 *
 * @throws SafeCoderError NOT_FOUND (no snapshot), COPY_FAILED (I/O), ABORTED.
 */
export async function commitChanges(
  repo: AuditRepo,
  options: CommitChangesOptions,
): Promise<CommitChangesResult | undefined> {
  return recordChanges(repo, options)
}

/** The commit HEAD points at. @throws SafeCoderError NOT_FOUND before the snapshot. */
export async function headCommit(repo: AuditRepo): Promise<string> {
  return readHead(repo)
}

// Sync-back and review compare commits as flat maps of paths, never as git trees.
/**
 * The files of `commit` ("HEAD" or a full id) as a manifest.
 *
 * @throws SafeCoderError NOT_FOUND.
 */
export async function manifestAt(repo: AuditRepo, commit: string): Promise<Manifest> {
  const oid = commit === 'HEAD' ? await readHead(repo) : commit
  if (!/^[0-9a-f]{40}$/.test(oid)) {
    throw new SafeCoderError('NOT_FOUND', `${JSON.stringify(commit)} is not a commit id.`, {
      hint: 'Use a full 40-character commit id from the log.',
    })
  }
  return (await readFlatTree(repo.gitdir, oid)).manifest
}
