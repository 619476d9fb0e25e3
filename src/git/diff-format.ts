import { quotePath, visibleText } from './diff-escape.js'
import type { FileDiff } from './diff-file.js'
import type { Hunk } from './diff-hunks.js'

/** How to print a diff. */
export interface FormatOptions {
  /** ANSI colours as git uses them (for a terminal). */
  color?: boolean
}

interface Palette {
  meta: (text: string) => string
  frag: (text: string) => string
  old: (text: string) => string
  new: (text: string) => string
}

const plain: Palette = { meta: same, frag: same, old: same, new: same }
const ansi: Palette = {
  meta: (text) => `\x1b[1m${text}\x1b[m`,
  frag: (text) => `\x1b[36m${text}\x1b[m`,
  old: (text) => `\x1b[31m${text}\x1b[m`,
  new: (text) => `\x1b[32m${text}\x1b[m`,
}

const zeroOid = '0000000'

// The text reviewers already read every day: git's own `diff --git` layout, escaped for terminals.
export function formatUnifiedDiff(diffs: readonly FileDiff[], options: FormatOptions = {}): string {
  const palette = options.color === true ? ansi : plain
  const out: string[] = []
  for (const diff of diffs) formatFile(diff, palette, out)
  return out.length === 0 ? '' : `${out.join('\n')}\n`
}

function formatFile(diff: FileDiff, palette: Palette, out: string[]): void {
  const oldName = quotePath('a/', diff.oldPath ?? diff.path)
  const newName = quotePath('b/', diff.path)
  out.push(palette.meta(`diff --git ${oldName} ${newName}`))
  const oldMode = diff.oldMode?.toString(8)
  const newMode = diff.newMode?.toString(8)
  if (diff.status === 'added') out.push(palette.meta(`new file mode ${newMode ?? ''}`))
  else if (diff.status === 'deleted') out.push(palette.meta(`deleted file mode ${oldMode ?? ''}`))
  else if (oldMode !== newMode) {
    out.push(palette.meta(`old mode ${oldMode ?? ''}`), palette.meta(`new mode ${newMode ?? ''}`))
  }
  if (diff.oldOid !== diff.newOid) {
    const range = `${abbreviate(diff.oldOid)}..${abbreviate(diff.newOid)}`
    const modeSuffix = diff.status === 'modified' && oldMode === newMode ? ` ${oldMode ?? ''}` : ''
    out.push(palette.meta(`index ${range}${modeSuffix}`))
  }
  if (diff.summary !== undefined) {
    out.push(visibleText(diff.summary))
    return
  }
  if (diff.hunks.length === 0) return
  out.push(palette.meta(`--- ${diff.status === 'added' ? '/dev/null' : oldName}`))
  out.push(palette.meta(`+++ ${diff.status === 'deleted' ? '/dev/null' : newName}`))
  for (const hunk of diff.hunks) formatHunk(hunk, palette, out)
}

function formatHunk(hunk: Hunk, palette: Palette, out: string[]): void {
  const range = `@@ -${span(hunk.oldStart, hunk.oldLines)} +${span(hunk.newStart, hunk.newLines)} @@`
  const heading = hunk.heading === undefined ? '' : ` ${visibleText(hunk.heading)}`
  out.push(`${palette.frag(range)}${heading}`)
  for (const line of hunk.lines) {
    const text = visibleText(line)
    if (line.startsWith('-')) out.push(palette.old(text))
    else if (line.startsWith('+')) out.push(palette.new(text))
    else out.push(text)
  }
}

function span(start: number, count: number): string {
  return count === 1 ? `${start}` : `${start},${count}`
}

function abbreviate(oid: string | undefined): string {
  return oid === undefined ? zeroOid : oid.slice(0, 7)
}

function same(text: string): string {
  return text
}
