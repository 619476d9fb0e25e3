import { SafeCoderError } from '../shared/errors.js'
import { diffChange, type DiffSettings, type FileDiff } from './diff-file.js'
import { resolveRevision } from './log-revision.js'
import { readPlaceholders } from './tree-large.js'
import { diffTrees, type TreeChange } from './tree-diff.js'
import { openReader, readCommitRecord, type RepoLocation } from './tree-read.js'

export type { FileDiff } from './diff-file.js'
export type { Hunk } from './diff-hunks.js'
export { formatStat } from './diff-stat.js'
export { formatUnifiedDiff } from './diff-format.js'

/** What to compare: two commits, optionally limited to some paths. */
export interface DiffOptions {
  /** Default: the parent of `to` (the empty tree for commit 0). */
  from?: string
  /** Default: `HEAD`. */
  to?: string
  /** Files or directories to limit the diff to. */
  paths?: readonly string[]
  /** Unchanged lines around each change; default 3, as git. */
  context?: number
  /** Text files over this many bytes are summarised, not diffed; default 1 MiB. */
  maxBytes?: number
}

export const defaultMaxDiffBytes = 1024 * 1024
const readConcurrency = 16

// Review shows one commit, one file or the whole session (from = commit 0) the same way.
export async function diffCommits(
  repo: Pick<RepoLocation, 'gitdir' | 'objectCache'>,
  options: DiffOptions = {},
): Promise<FileDiff[]> {
  const context = options.context ?? 3
  const maxBytes = options.maxBytes ?? defaultMaxDiffBytes
  if (!Number.isInteger(context) || context < 0 || !(maxBytes >= 0)) {
    throw new SafeCoderError(
      'USAGE',
      `Invalid diff options: context ${context}, maxBytes ${maxBytes}.`,
    )
  }
  const reader = openReader(repo)
  const to = await readCommitRecord(reader, await resolveRevision(reader, options.to ?? 'HEAD'))
  const fromOid =
    options.from === undefined ? to.parents[0] : await resolveRevision(reader, options.from)
  const fromTree =
    fromOid === undefined ? undefined : (await readCommitRecord(reader, fromOid)).tree
  const changes = await diffTrees(reader, fromTree, to.tree, options.paths)
  const settings = { reader, placeholders: await readPlaceholders(reader), maxBytes, context }
  return diffChanges(settings, changes)
}

/** Diffs changes a few at a time, so a whole-session diff never holds every blob at once. */
export async function diffChanges(
  settings: DiffSettings,
  changes: readonly TreeChange[],
): Promise<FileDiff[]> {
  const diffs: FileDiff[] = []
  for (let i = 0; i < changes.length; i += readConcurrency) {
    const batch = changes.slice(i, i + readConcurrency)
    diffs.push(...(await Promise.all(batch.map((change) => diffChange(settings, change)))))
  }
  return diffs
}
