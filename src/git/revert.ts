import { writeBlob, writeCommit } from 'isomorphic-git'
import { SafeCoderError } from '../shared/errors.js'
import { serialised } from './audit-repo.js'
import { parseMessage } from './log-message.js'
import { headRefName, resolveRevision } from './log-revision.js'
import { applyMirrorWrites, checkMirrorWrites, type MirrorWrite } from './revert-mirror.js'
import { planFile, type PlannedFile, type RevertScope } from './revert-plan.js'
import { streamBlobFrom } from './loose-stream.js'
import { lockRef } from './revert-ref.js'
import { diffTrees } from './tree-diff.js'
import { editTree } from './tree-edit.js'
import { readPlaceholders } from './tree-large.js'
import {
  openReader,
  readBlobBytes,
  readCommitRecord,
  type BlobEntry,
  type RepoLocation,
  type RepoReader,
} from './tree-read.js'

/** What to undo: a whole commit, some of its files, or one hunk of one file. */
export interface RevertOptions {
  commit: string
  paths?: readonly string[]
  /** `index` counts from 0 in the commit's diff of `path` (3 lines of context, as shown). */
  hunk?: { path: string; index: number }
  /** Replaces the generated first line and body. */
  message?: string
  /** Added to the message, e.g. `Session` and `Call`. */
  trailers?: Record<string, string>
}

/** The new commit on HEAD and the paths it changed (in history and in the mirror). */
export interface RevertResult {
  commit: string
  changed: string[]
}

const identity = { name: 'Safe Coder', email: 'safe-coder@localhost' }

/**
 * Undoes a reviewed change as a new commit on HEAD and mirrors it into the work dir, so the
 * sandbox sees it. Conflicts with later changes are refused, never half-applied.
 */
export function revertCommit(repo: RepoLocation, options: RevertOptions): Promise<RevertResult> {
  return serialised(repo, () => revertNow(repo, options))
}

async function revertNow(repo: RepoLocation, options: RevertOptions): Promise<RevertResult> {
  const hunk = options.hunk
  if (hunk !== undefined && (!Number.isInteger(hunk.index) || hunk.index < 0)) {
    throw new SafeCoderError('USAGE', `Invalid hunk index ${hunk.index}; hunks count from 0.`)
  }
  const reader = openReader(repo)
  const target = await readCommitRecord(reader, await resolveRevision(reader, options.commit))
  const parent = target.parents[0]
  const subject = parseMessage(target.message).subject
  if (parent === undefined) {
    throw new SafeCoderError(
      'USAGE',
      `Commit ${target.oid.slice(0, 7)} is the snapshot of the project; there is nothing before it to go back to.`,
      {
        hint: 'Revert the later commits instead, or discard the session.',
      },
    )
  }
  const ref = await headRefName(reader)
  const head = await readCommitRecord(reader, await resolveRevision(reader, 'HEAD'))
  const parentTree = (await readCommitRecord(reader, parent)).tree
  const filter = hunk === undefined ? options.paths : [hunk.path]
  const changes = await diffTrees(reader, parentTree, target.tree, filter)
  const exact = hunk === undefined ? changes : changes.filter((c) => c.path === hunk.path)
  if (exact.length === 0) {
    const where = filter === undefined ? '' : ` under ${filter.join(', ')}`
    throw new SafeCoderError('USAGE', `Commit ${target.oid.slice(0, 7)} changed nothing${where}.`)
  }
  const settings = {
    reader,
    placeholders: await readPlaceholders(reader),
    maxBytes: Number.MAX_SAFE_INTEGER,
    context: 3,
  }
  const scope: RevertScope = { settings, headTree: head.tree, commit: { oid: target.oid, subject } }
  if (hunk !== undefined) scope.hunk = hunk.index
  const planned: PlannedFile[] = []
  for (const change of exact) {
    const file = await planFile(scope, change)
    if (file !== undefined) planned.push(file)
  }
  if (planned.length === 0) {
    throw new SafeCoderError(
      'USAGE',
      `Commit ${target.oid.slice(0, 7)} ("${subject}") is already undone at HEAD; nothing was committed.`,
      { hint: '`safe-coder log` shows the commit that undid it.', data: { commit: target.oid } },
    )
  }
  const writes = await toMirrorWrites(reader, planned)
  await checkMirrorWrites(repo.workDir, writes)
  const edits = new Map<string, BlobEntry | null>()
  for (const file of planned) edits.set(file.path, await storeTarget(reader, file))
  const tree = await editTree(reader, head.tree, edits)
  const now = { timestamp: Math.floor(Date.now() / 1000), timezoneOffset: 0 }
  const commit = await writeCommit({
    fs: reader.fs,
    gitdir: repo.gitdir,
    commit: {
      tree,
      parent: [head.oid],
      author: { ...identity, ...now },
      committer: { ...identity, ...now },
      message: composeMessage(options, target.oid, subject),
    },
  })
  const lock = await lockRef(reader, ref, head.oid)
  try {
    await applyMirrorWrites(repo.workDir, writes)
    await lock.commit(commit)
  } finally {
    await lock.release()
  }
  return { commit, changed: planned.map((file) => file.path) }
}

async function toMirrorWrites(reader: RepoReader, planned: PlannedFile[]): Promise<MirrorWrite[]> {
  const writes: MirrorWrite[] = []
  for (const { path, target } of planned) {
    if (target === null) {
      writes.push({ path, content: null })
      continue
    }
    const oid = target.oid ?? ''
    if (target.bytes === undefined && target.mode !== 0o120000) {
      // Read as it is written, one file at a time: a loose blob (every large one is) streams.
      const chunks = async (): Promise<Iterable<Uint8Array> | AsyncIterable<Uint8Array>> =>
        (await streamBlobFrom(reader.gitdir, oid)) ?? [await readBlobBytes(reader, oid)]
      writes.push({ path, content: { mode: target.mode, chunks } })
      continue
    }
    const bytes = target.bytes ?? (await readBlobBytes(reader, oid))
    writes.push({ path, content: { mode: target.mode, bytes } })
  }
  return writes
}

async function storeTarget(reader: RepoReader, file: PlannedFile): Promise<BlobEntry | null> {
  const target = file.target
  if (target === null) return null
  const oid =
    target.oid ??
    (await writeBlob({
      fs: reader.fs,
      gitdir: reader.gitdir,
      blob: target.bytes ?? new Uint8Array(),
    }))
  return { oid, mode: target.mode }
}

function composeMessage(options: RevertOptions, oid: string, subject: string): string {
  const hunk = options.hunk
  const what =
    hunk !== undefined
      ? `hunk ${hunk.index} of ${hunk.path} in`
      : options.paths !== undefined && options.paths.length > 0
        ? `${options.paths.join(', ')} in`
        : ''
  const head =
    options.message ??
    `Revert ${what === '' ? '' : `${what} `}"${subject}"\n\nThis reverts ${what === '' ? '' : `${what} `}commit ${oid}.`
  const trailers = { ...options.trailers, Reverts: oid }
  const lines = Object.entries(trailers)
    .filter(([key]) => /^[A-Za-z0-9][A-Za-z0-9-]*$/.test(key))
    .map(([key, value]) => `${key}: ${value.replace(/[\r\n]+/g, ' ')}`)
  return `${head.trimEnd()}\n\n${lines.join('\n')}\n`
}
