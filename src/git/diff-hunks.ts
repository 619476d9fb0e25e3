import { diffArrays } from 'diff'

/** One hunk of a unified diff. */
export interface Hunk {
  /** First line of the hunk in the old file (1-based; the line before it when `oldLines` is 0). */
  oldStart: number
  oldLines: number
  newStart: number
  newLines: number
  /** `' x'`, `'-x'`, `'+x'`, and `'\ No newline at end of file'` after a line without one. */
  lines: string[]
  /** The nearest line above the hunk that starts a definition, as git prints after `@@`. */
  heading?: string
}

/** A hunk with its position in the line tokens, so it can be inverted exactly. */
export interface HunkSpan {
  hunk: Hunk
  oldFrom: number
  oldTo: number
  newFrom: number
  newTo: number
}

/** Lines keep their terminator, so "a" and "a\n" differ as they do for git. */
export function splitLines(text: string): string[] {
  if (text === '') return []
  const lines = text.split(/(?<=\n)/)
  return lines
}

const noNewline = '\\ No newline at end of file'
const maxEditLength = 20_000

// Common ends are trimmed first: most edits touch a few lines of a long file.
export function diffLineTokens(
  oldLines: readonly string[],
  newLines: readonly string[],
  context: number,
): HunkSpan[] {
  let head = 0
  while (head < oldLines.length && head < newLines.length && oldLines[head] === newLines[head]) {
    head++
  }
  let tail = 0
  while (
    tail < oldLines.length - head &&
    tail < newLines.length - head &&
    oldLines[oldLines.length - 1 - tail] === newLines[newLines.length - 1 - tail]
  ) {
    tail++
  }
  const oldMid = oldLines.slice(head, oldLines.length - tail)
  const newMid = newLines.slice(head, newLines.length - tail)
  const edits = editRuns(oldMid, newMid).map((run) => ({
    ...run,
    oldAt: run.oldAt + head,
    newAt: run.newAt + head,
  }))
  return groupRuns(edits, oldLines, newLines, context)
}

/** A run of changed lines: `oldCount` removed at `oldAt`, `newCount` added at `newAt`. */
interface EditRun {
  oldAt: number
  oldCount: number
  newAt: number
  newCount: number
}

function editRuns(oldMid: string[], newMid: string[]): EditRun[] {
  if (oldMid.length === 0 && newMid.length === 0) return []
  const whole = [{ oldAt: 0, oldCount: oldMid.length, newAt: 0, newCount: newMid.length }]
  if (oldMid.length === 0 || newMid.length === 0) return whole
  const changes = diffArrays(oldMid, newMid, { maxEditLength })
  if (changes === undefined) return whole
  const runs: EditRun[] = []
  let oldAt = 0
  let newAt = 0
  let open: EditRun | undefined
  for (const change of changes) {
    if (!change.added && !change.removed) {
      open = undefined
      oldAt += change.count
      newAt += change.count
      continue
    }
    if (open === undefined) {
      open = { oldAt, oldCount: 0, newAt, newCount: 0 }
      runs.push(open)
    }
    if (change.removed) {
      open.oldCount += change.count
      oldAt += change.count
    } else {
      open.newCount += change.count
      newAt += change.count
    }
  }
  return runs
}

function groupRuns(
  runs: EditRun[],
  oldLines: readonly string[],
  newLines: readonly string[],
  context: number,
): HunkSpan[] {
  const spans: HunkSpan[] = []
  let index = 0
  while (index < runs.length) {
    let last = index
    while (last + 1 < runs.length) {
      const gap = (runs[last + 1]?.oldAt ?? 0) - endOf(runs[last])
      if (gap > 2 * context) break
      last++
    }
    const first = runs[index] as EditRun
    const lead = Math.min(context, first.oldAt)
    const end = endOf(runs[last])
    const trail = Math.min(context, oldLines.length - end)
    const oldFrom = first.oldAt - lead
    const newFrom = first.newAt - lead
    const lines: string[] = []
    let cursor = oldFrom
    for (const run of runs.slice(index, last + 1)) {
      for (; cursor < run.oldAt; cursor++) pushLine(lines, ' ', oldLines[cursor])
      for (let i = 0; i < run.oldCount; i++) pushLine(lines, '-', oldLines[run.oldAt + i])
      for (let i = 0; i < run.newCount; i++) pushLine(lines, '+', newLines[run.newAt + i])
      cursor = run.oldAt + run.oldCount
    }
    for (; cursor < end + trail; cursor++) pushLine(lines, ' ', oldLines[cursor])
    const lastRun = runs[last] as EditRun
    const newTo = lastRun.newAt + lastRun.newCount + trail
    const oldTo = end + trail
    const hunk: Hunk = {
      oldStart: oldTo === oldFrom ? oldFrom : oldFrom + 1,
      oldLines: oldTo - oldFrom,
      newStart: newTo === newFrom ? newFrom : newFrom + 1,
      newLines: newTo - newFrom,
      lines,
    }
    const heading = findHeading(oldLines, oldFrom)
    if (heading !== undefined) hunk.heading = heading
    spans.push({ hunk, oldFrom, oldTo, newFrom, newTo })
    index = last + 1
  }
  return spans
}

function endOf(run: EditRun | undefined): number {
  return run === undefined ? 0 : run.oldAt + run.oldCount
}

function pushLine(lines: string[], sign: string, token: string | undefined): void {
  if (token === undefined) return
  if (token.endsWith('\n')) {
    lines.push(sign + token.slice(0, -1))
    return
  }
  lines.push(sign + token, noNewline)
}

// Git's default funcname rule: a line starting with a letter, `_` or `$`, cut to 80 bytes.
function findHeading(oldLines: readonly string[], before: number): string | undefined {
  for (let i = before - 1; i >= 0; i--) {
    const line = oldLines[i]
    if (line === undefined || !/^[A-Za-z_$]/.test(line)) continue
    const cut = Buffer.from(line.replace(/\n$/, ''), 'utf8').subarray(0, 80).toString('utf8')
    return cut.replace(/\uFFFD$/, '').trimEnd()
  }
  return undefined
}

/** Counts `+` and `-` lines across hunks. */
export function countLines(hunks: readonly Hunk[]): { added: number; removed: number } {
  let added = 0
  let removed = 0
  for (const hunk of hunks) {
    for (const line of hunk.lines) {
      if (line.startsWith('+')) added++
      else if (line.startsWith('-')) removed++
    }
  }
  return { added, removed }
}
