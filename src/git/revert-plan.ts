import { SafeCoderError } from '../shared/errors.js'
import type { GitFileMode } from '../shared/manifest.js'
import { loadSide, type DiffSettings } from './diff-file.js'
import type { SideContent } from './diff-content.js'
import { diffLineTokens, splitLines } from './diff-hunks.js'
import { mergeLines } from './revert-merge.js'
import type { TreeChange } from './tree-diff.js'
import { findEntry, readBlobBytes, type BlobEntry } from './tree-read.js'

/** One version of a file: its mode, and its blob id or (for merged text) its bytes. */
export interface FileVersion {
  mode: GitFileMode
  oid?: string
  bytes?: Uint8Array
}

/** What the revert makes of one path at HEAD (`null` deletes it). */
export interface PlannedFile {
  path: string
  target: FileVersion | null
}

/** The commit being reverted, for messages. */
export interface RevertSubject {
  oid: string
  subject: string
}

/** Which part of a commit to undo. */
export interface RevertScope {
  settings: DiffSettings
  headTree: string
  commit: RevertSubject
  /** Index of the one hunk to undo (in the commit's diff of this path, context 3). */
  hunk?: number
}

const hunkContext = 3

// The inverse of the change (new → old) is merged onto HEAD, with the commit's version as base.
export async function planFile(
  scope: RevertScope,
  change: TreeChange,
): Promise<PlannedFile | undefined> {
  const placeholders = scope.settings.placeholders
  if (
    [change.old, change.new].some((e) => e !== undefined && placeholders.has(change.path, e.oid))
  ) {
    throw conflict(
      scope,
      change.path,
      'the file was too large to record, so its content is unknown',
    )
  }
  const ours = await findEntry(scope.settings.reader, scope.headTree, change.path)
  const base = change.new
  const theirs =
    scope.hunk === undefined ? versionOf(change.old) : await invertHunk(scope, change, scope.hunk)
  if (await sameVersion(scope, ours, theirs)) return undefined
  if (await sameVersion(scope, ours, base)) return { path: change.path, target: theirs ?? null }
  if (ours === undefined || base === undefined || theirs === undefined) {
    throw conflict(scope, change.path, 'it was added or deleted again after that commit')
  }
  const mode = mergeMode(ours.mode, base.mode, theirs.mode)
  if (mode === undefined) throw conflict(scope, change.path, 'its mode changed again since')
  const [oursText, baseText, theirsText] = await Promise.all([
    textOf(scope, change.path, ours),
    textOf(scope, change.path, base),
    textOf(scope, change.path, theirs),
  ])
  if (oursText === undefined || baseText === undefined || theirsText === undefined) {
    throw conflict(scope, change.path, 'it changed again since and is not a text file')
  }
  const merged = mergeLines(splitLines(oursText), splitLines(baseText), splitLines(theirsText))
  if (merged === undefined) {
    throw conflict(scope, change.path, 'later commits changed the same lines')
  }
  const text = merged.join('')
  // The inverse is already in HEAD (reverted before, around later edits): nothing to commit.
  if (text === oursText && mode === ours.mode) return undefined
  return { path: change.path, target: { mode, bytes: Buffer.from(text, 'utf8') } }
}

async function invertHunk(
  scope: RevertScope,
  change: TreeChange,
  index: number,
): Promise<FileVersion> {
  const [before, after] = await Promise.all([
    loadSide(scope.settings, change.path, change.old),
    loadSide(scope.settings, change.path, change.new),
  ])
  if (change.new === undefined || before.kind !== 'text' || after.kind !== 'text') {
    throw new SafeCoderError(
      'USAGE',
      `Cannot revert one hunk of ${change.path} in commit ${short(scope.commit)}: the commit ${describe(before, after)}.`,
      { hint: 'Revert the whole file instead.', data: { path: change.path } },
    )
  }
  const oldLines = splitLines(before.text)
  const newLines = splitLines(after.text)
  const spans = diffLineTokens(oldLines, newLines, hunkContext)
  const span = spans[index]
  if (span === undefined) {
    throw new SafeCoderError(
      'USAGE',
      `Commit ${short(scope.commit)} has ${spans.length} hunk(s) in ${change.path}; there is no hunk ${index}.`,
      { hint: 'Hunks are numbered from 0 in the order `safe-coder diff` shows them.' },
    )
  }
  const lines = [
    ...newLines.slice(0, span.newFrom),
    ...oldLines.slice(span.oldFrom, span.oldTo),
    ...newLines.slice(span.newTo),
  ]
  return { mode: change.new.mode, bytes: Buffer.from(lines.join(''), 'utf8') }
}

function describe(before: SideContent, after: SideContent): string {
  if (before.kind === 'absent') return 'created the file'
  if (after.kind === 'absent') return 'deleted the file'
  return 'changed a binary or very large file'
}

function versionOf(entry: BlobEntry | undefined): FileVersion | undefined {
  return entry === undefined ? undefined : { mode: entry.mode, oid: entry.oid }
}

async function sameVersion(
  scope: RevertScope,
  a: FileVersion | undefined,
  b: FileVersion | undefined,
): Promise<boolean> {
  if (a === undefined || b === undefined) return a === b
  if (a.mode !== b.mode) return false
  if (a.oid !== undefined && b.oid !== undefined) return a.oid === b.oid
  const [left, right] = await Promise.all([bytesOf(scope, a), bytesOf(scope, b)])
  return Buffer.compare(left, right) === 0
}

async function bytesOf(scope: RevertScope, version: FileVersion): Promise<Uint8Array> {
  if (version.bytes !== undefined) return version.bytes
  return readBlobBytes(scope.settings.reader, version.oid ?? '')
}

async function textOf(
  scope: RevertScope,
  path: string,
  version: FileVersion,
): Promise<string | undefined> {
  if (version.mode === 0o120000) return undefined
  if (version.bytes !== undefined) return Buffer.from(version.bytes).toString('utf8')
  const side = await loadSide(scope.settings, path, { oid: version.oid ?? '', mode: version.mode })
  return side.kind === 'text' ? side.text : undefined
}

function mergeMode(
  ours: GitFileMode,
  base: GitFileMode,
  theirs: GitFileMode,
): GitFileMode | undefined {
  if (ours === base) return theirs
  if (theirs === base || theirs === ours) return ours
  return undefined
}

function conflict(scope: RevertScope, path: string, why: string): SafeCoderError {
  return new SafeCoderError(
    'USAGE',
    `Cannot revert commit ${short(scope.commit)} ("${scope.commit.subject}") in ${path}: ${why}.`,
    {
      hint: 'Revert the later commits that touched this file first, or edit it by hand.',
      data: { path, commit: scope.commit.oid },
    },
  )
}

function short(commit: RevertSubject): string {
  return commit.oid.slice(0, 7)
}
