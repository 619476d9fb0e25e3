import { classifyBytes, placeholderContent, summarise, type SideContent } from './diff-content.js'
import { countLines, diffLineTokens, splitLines, type Hunk } from './diff-hunks.js'
import type { Placeholders } from './tree-large.js'
import type { TreeChange } from './tree-diff.js'
import { readBlobBytes, type BlobEntry, type RepoReader } from './tree-read.js'

/** How a path changed between two commits. */
export type ChangeStatus = 'added' | 'modified' | 'deleted' | 'typechange'

/** The diff of one file, ready to print or to walk hunk by hunk. */
export interface FileDiff {
  path: string
  /** Set for renames; this diff does not detect them yet, so it is always absent. */
  oldPath?: string
  status: ChangeStatus
  binary: boolean
  tooLarge: boolean
  oldMode?: number
  newMode?: number
  oldOid?: string
  newOid?: string
  /** Byte sizes, when known (not for placeholders of files too large to record). */
  oldSize?: number
  newSize?: number
  added: number
  removed: number
  hunks: Hunk[]
  /** Stands in for the hunks of a binary or huge file. */
  summary?: string
}

/** What every file diff of one operation shares. */
export interface DiffSettings {
  reader: RepoReader
  placeholders: Placeholders
  maxBytes: number
  context: number
}

const symlinkMode = 0o120000

// Both sides are classified before any diffing, so binary or huge content is never split into lines.
export async function diffChange(settings: DiffSettings, change: TreeChange): Promise<FileDiff> {
  const [before, after] = await Promise.all([
    loadSide(settings, change.path, change.old),
    loadSide(settings, change.path, change.new),
  ])
  const diff: FileDiff = {
    path: change.path,
    status: statusOf(change),
    binary: before.kind === 'binary' || after.kind === 'binary',
    tooLarge: before.kind === 'tooLarge' || after.kind === 'tooLarge',
    added: 0,
    removed: 0,
    hunks: [],
  }
  if (change.old !== undefined) {
    diff.oldMode = change.old.mode
    diff.oldOid = change.old.oid
  }
  if (change.new !== undefined) {
    diff.newMode = change.new.mode
    diff.newOid = change.new.oid
  }
  const oldSize = knownSize(before)
  const newSize = knownSize(after)
  if (oldSize !== undefined) diff.oldSize = oldSize
  if (newSize !== undefined) diff.newSize = newSize
  const summary = summarise(before, after)
  if (summary !== undefined) {
    diff.summary = summary
    return diff
  }
  const spans = diffLineTokens(
    splitLines(textOf(before)),
    splitLines(textOf(after)),
    settings.context,
  )
  diff.hunks = spans.map((span) => span.hunk)
  Object.assign(diff, countLines(diff.hunks))
  return diff
}

/** Reads one side of a change and decides how much of it a diff may show. */
export async function loadSide(
  settings: DiffSettings,
  path: string,
  entry: BlobEntry | undefined,
): Promise<SideContent> {
  if (entry === undefined) return { kind: 'absent' }
  // A blob the table says is over the cap is summarised by its size, never loaded (it may be
  // gigabytes: recording streams files of any size).
  const size = settings.placeholders.sizeOf(entry.oid)
  if (size !== undefined && size > settings.maxBytes && !settings.placeholders.has(path, entry.oid))
    return { kind: 'tooLarge', size }
  const bytes = await readBlobBytes(settings.reader, entry.oid)
  if (settings.placeholders.has(path, entry.oid)) return placeholderContent(bytes)
  return classifyBytes(bytes, settings.maxBytes)
}

/** The text of a side for line diffing; an absent side is empty. */
export function textOf(side: SideContent): string {
  return side.kind === 'text' ? side.text : ''
}

function knownSize(side: SideContent): number | undefined {
  if (side.kind === 'absent' || (side.kind === 'tooLarge' && side.placeholder === true)) return
  return side.size
}

function statusOf(change: TreeChange): ChangeStatus {
  if (change.old === undefined) return 'added'
  if (change.new === undefined) return 'deleted'
  const wasLink = change.old.mode === symlinkMode
  const isLink = change.new.mode === symlinkMode
  return wasLink === isLink ? 'modified' : 'typechange'
}
