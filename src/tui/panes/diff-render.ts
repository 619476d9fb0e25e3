import type { FileDiffView, HunkView } from '../../session/client.js'
import { ui } from '../blessed.js'
import { sanitizeLine } from '../state/sanitize.js'
import type { Theme } from '../theme.js'
import { fit, fitRight } from './text-fit.js'

export type DiffLayout = 'unified' | 'split'

type LineKind = HunkView['lines'][number]['kind']

interface Side {
  no: number
  kind: LineKind
  text: string
}

/** One screen row of a diff, before it is cut to a width and coloured. */
export type DiffRow =
  | { type: 'hunk'; text: string }
  | { type: 'note'; text: string }
  | { type: 'line'; kind: LineKind; old?: number; new?: number; text: string }
  | { type: 'pair'; left?: Side; right?: Side }

export interface DiffLines {
  rows: DiffRow[]
  /** The row of each hunk's header. */
  hunkStarts: number[]
  /** Width of the line-number columns. */
  digits: number
}

const headerPattern = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/

/**
 * A file's diff as rows. Cheap descriptors only: the pane formats the few rows on screen, so a
 * huge diff costs its layout once, not its markup on every frame.
 */
export function layoutDiff(file: FileDiffView, layout: DiffLayout): DiffLines {
  const rows: DiffRow[] = []
  const hunkStarts: number[] = []
  let widest = 1
  if (file.hunks.length === 0) {
    const why = file.binary ? 'binary file: not shown' : 'no text changes (mode only)'
    rows.push({ type: 'note', text: file.summary ?? why })
  } else if (file.summary !== undefined) {
    rows.push({ type: 'note', text: file.summary })
  }
  for (const hunk of file.hunks) {
    const m = headerPattern.exec(hunk.header)
    let oldNo = Number(m?.[1] ?? 1)
    let newNo = Number(m?.[3] ?? 1)
    widest = Math.max(widest, oldNo + Number(m?.[2] ?? 1), newNo + Number(m?.[4] ?? 1))
    hunkStarts.push(rows.length)
    rows.push({ type: 'hunk', text: hunk.header })
    const removed: Side[] = []
    const added: Side[] = []
    // Side by side pairs a run of removed lines with the added lines that follow it.
    const flush = (): void => {
      for (let i = 0; i < Math.max(removed.length, added.length); i++) {
        rows.push({ type: 'pair', left: removed[i], right: added[i] })
      }
      removed.length = 0
      added.length = 0
    }
    for (const line of hunk.lines) {
      if (layout === 'unified') {
        if (line.kind === 'add')
          rows.push({ type: 'line', kind: 'add', new: newNo++, text: line.text })
        else if (line.kind === 'remove')
          rows.push({ type: 'line', kind: 'remove', old: oldNo++, text: line.text })
        else
          rows.push({ type: 'line', kind: 'context', old: oldNo++, new: newNo++, text: line.text })
      } else if (line.kind === 'remove') {
        if (added.length > 0) flush()
        removed.push({ no: oldNo++, kind: 'remove', text: line.text })
      } else if (line.kind === 'add') {
        added.push({ no: newNo++, kind: 'add', text: line.text })
      } else {
        flush()
        const side = (no: number): Side => ({ no, kind: 'context', text: line.text })
        rows.push({ type: 'pair', left: side(oldNo++), right: side(newNo++) })
      }
    }
    flush()
  }
  return { rows, hunkStarts, digits: String(widest).length }
}

export interface DiffRowOptions {
  theme: Theme
  width: number
  digits: number
}

const sign: Record<LineKind, string> = { add: '+', remove: '-', context: ' ' }

/** One row as tagged content, exactly `width` columns wide (side by side stays aligned). */
export function formatDiffRow(row: DiffRow, options: DiffRowOptions): string {
  const { theme, width, digits } = options
  switch (row.type) {
    case 'hunk':
      return theme.tag(theme.accent, ui.escape(fit(sanitizeLine(row.text), width)))
    case 'note':
      return theme.tag(theme.dim, ui.escape(fit(sanitizeLine(row.text), width)))
    case 'line': {
      const gutter = `${num(row.old, digits)} ${num(row.new, digits)} `
      const text = fit(sign[row.kind] + sanitizeLine(row.text), Math.max(0, width - gutter.length))
      return theme.tag(theme.dim, gutter) + paint(theme, row.kind, text)
    }
    case 'pair': {
      const column = Math.floor((width - 1) / 2)
      const right = width - 1 - column
      return `${side(row.left, column, options)}${theme.tag(theme.dim, '│')}${side(row.right, right, options)}`
    }
  }
}

function side(s: Side | undefined, width: number, options: DiffRowOptions): string {
  if (s === undefined) return ' '.repeat(Math.max(0, width))
  const { theme, digits } = options
  const gutter = `${num(s.no, digits)} `
  const text = fit(sign[s.kind] + sanitizeLine(s.text), Math.max(0, width - gutter.length))
  return theme.tag(theme.dim, gutter) + paint(theme, s.kind, text)
}

function num(n: number | undefined, digits: number): string {
  return fitRight(n === undefined ? '' : String(n), digits)
}

// Light syntax awareness: unchanged comment lines recede, changes keep their colour.
const commentPattern = /^[-+ ]\s*(\/\/|#|\/\*|\*|--|<!--|;)/

function paint(theme: Theme, kind: LineKind, text: string): string {
  const escaped = ui.escape(text)
  if (kind === 'add') return theme.tag(theme.added, escaped)
  if (kind === 'remove') return theme.tag(theme.removed, escaped)
  return commentPattern.test(text) ? theme.tag(theme.dim, escaped) : escaped
}
