import { SafeCoderError } from '../shared/errors.js'
import { diffChanges } from './diff.js'
import type { ChangeStatus, FileDiff } from './diff-file.js'
import { parseMessage } from './log-message.js'
import { resolveRevision } from './log-revision.js'
import { readPlaceholders } from './tree-large.js'
import { diffTrees } from './tree-diff.js'
import { openReader, readCommitRecord, type RepoLocation, type RepoReader } from './tree-read.js'

export type { RepoLocation } from './tree-read.js'

/** One recorded step of a session: a tool call, a revert, or commit 0 (the snapshot). */
export interface CommitInfo {
  oid: string
  /** Absent for commit 0. */
  parent?: string
  /** First line of the message: the tool and its (truncated) arguments. */
  subject: string
  body: string
  /** `Session`, `Call`, `Exit`, `Duration`, … as written by the write side. */
  trailers: Record<string, string>
  /** Seconds since the epoch, when the commit was recorded. */
  timestamp: number
  files: FileChange[]
  /** Files the commit also changed, left out of `files` by `maxFiles`; absent when none were. */
  moreFiles?: number
}

/** A file a commit changed, with git-numstat-style line counts (0 and 0 for binary files). */
export interface FileChange {
  path: string
  status: ChangeStatus
  added: number
  removed: number
  binary: boolean
  tooLarge: boolean
  oldMode?: number
  newMode?: number
}

/** How much history to read. */
export interface LogOptions {
  /** Newest commits only; default: all. */
  limit?: number
  /** Where to start; default `HEAD`. */
  ref?: string
  /**
   * At most this many files per commit (the first by path) get their line counts read; the
   * rest are only counted, in `moreFiles`. Default: all. Commit 0 adds every file of the
   * project, and a listing that shows a few of them should not read them all.
   */
  maxFiles?: number
}

const maxTextBytes = 1024 * 1024

// The timeline of a session, newest first, each commit with what it touched.
export async function readLog(
  repo: Pick<RepoLocation, 'gitdir' | 'objectCache'>,
  options: LogOptions = {},
): Promise<CommitInfo[]> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY
  const maxFiles = options.maxFiles ?? Number.POSITIVE_INFINITY
  if (!(limit >= 0) || !(maxFiles >= 0))
    throw new SafeCoderError('USAGE', `Invalid log options: limit ${limit}, maxFiles ${maxFiles}.`)
  const reader = openReader(repo)
  const placeholders = await readPlaceholders(reader)
  const settings = { reader, placeholders, maxBytes: maxTextBytes, context: 0 }
  const commits: CommitInfo[] = []
  let next: string | undefined = await resolveRevision(reader, options.ref ?? 'HEAD')
  while (next !== undefined && commits.length < limit) {
    const record = await readCommitRecord(reader, next)
    const parent = record.parents[0]
    const parentTree =
      parent === undefined ? undefined : (await readCommitRecord(reader, parent)).tree
    const changes = await diffTrees(reader, parentTree, record.tree)
    const info: CommitInfo = {
      oid: record.oid,
      ...parseMessage(record.message),
      timestamp: record.timestamp,
      files: (await diffChanges(settings, changes.slice(0, maxFiles))).map(toFileChange),
    }
    if (parent !== undefined) info.parent = parent
    if (changes.length > info.files.length) info.moreFiles = changes.length - info.files.length
    commits.push(info)
    next = parent
  }
  return commits
}

/** Commit 0, the snapshot of the project: `from` of a whole-session diff. */
export async function findRootCommit(
  repo: Pick<RepoLocation, 'gitdir' | 'objectCache'>,
  ref = 'HEAD',
): Promise<string> {
  return rootOf(openReader(repo), ref)
}

async function rootOf(reader: RepoReader, ref: string): Promise<string> {
  let oid = await resolveRevision(reader, ref)
  for (;;) {
    const parent = (await readCommitRecord(reader, oid)).parents[0]
    if (parent === undefined) return oid
    oid = parent
  }
}

function toFileChange(diff: FileDiff): FileChange {
  const change: FileChange = {
    path: diff.path,
    status: diff.status,
    added: diff.added,
    removed: diff.removed,
    binary: diff.binary,
    tooLarge: diff.tooLarge,
  }
  if (diff.oldMode !== undefined) change.oldMode = diff.oldMode
  if (diff.newMode !== undefined) change.newMode = diff.newMode
  return change
}
