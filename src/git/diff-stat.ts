import { quotePath } from './diff-escape.js'
import type { FileDiff } from './diff-file.js'

const totalWidth = 80

// The at-a-glance size of a change, laid out the way `git diff --stat` does on an 80-column pipe.
export function formatStat(diffs: readonly FileDiff[]): string {
  if (diffs.length === 0) return ' 0 files changed\n'
  const names = diffs.map((diff) => quotePath('', diff.path))
  const summarised = (diff: FileDiff): boolean => diff.summary !== undefined
  const maxChange = Math.max(0, ...diffs.map((diff) => diff.added + diff.removed))
  const numberWidth = Math.max(String(maxChange).length, diffs.some(summarised) ? 'Bin'.length : 0)
  let nameWidth = Math.max(...names.map((name) => name.length))
  let graphWidth = maxChange
  if (nameWidth + numberWidth + 6 + graphWidth > totalWidth) {
    const limit = Math.floor((totalWidth * 3) / 8) - numberWidth - 6
    if (graphWidth > limit) graphWidth = Math.max(limit, 6)
    if (nameWidth > totalWidth - numberWidth - 6 - graphWidth) {
      nameWidth = totalWidth - numberWidth - 6 - graphWidth
    } else {
      graphWidth = totalWidth - numberWidth - 6 - nameWidth
    }
  }
  const lines = diffs.map((diff, index) => {
    const name = fitName(names[index] ?? '', nameWidth).padEnd(nameWidth)
    if (diff.summary !== undefined) {
      return ` ${name} | ${'Bin'.padStart(numberWidth)} ${binarySizes(diff)}`
    }
    const count = String(diff.added + diff.removed).padStart(numberWidth)
    const plus = scale(diff.added, graphWidth, maxChange)
    const minus = scale(diff.removed, graphWidth, maxChange)
    const graph = `${'+'.repeat(plus)}${'-'.repeat(minus)}`
    return ` ${name} | ${count}${graph === '' ? '' : ` ${graph}`}`
  })
  return `${[...lines, totals(diffs)].join('\n')}\n`
}

function binarySizes(diff: FileDiff): string {
  if (diff.oldSize === undefined && diff.newSize === undefined) return '(too large to record)'
  return `${diff.oldSize ?? 0} -> ${diff.newSize ?? 0} bytes`
}

function fitName(name: string, width: number): string {
  if (name.length <= width) return name
  const tail = name.slice(name.length - width + 3)
  const slash = tail.indexOf('/')
  return `...${slash >= 0 ? tail.slice(slash) : tail}`
}

function scale(value: number, width: number, max: number): number {
  if (value === 0 || max <= width) return value
  return 1 + Math.floor((value * (width - 1)) / max)
}

function totals(diffs: readonly FileDiff[]): string {
  const added = diffs.reduce((sum, diff) => sum + diff.added, 0)
  const removed = diffs.reduce((sum, diff) => sum + diff.removed, 0)
  const files = diffs.length
  let text = ` ${files} file${files === 1 ? '' : 's'} changed`
  if (added > 0 || removed === 0) text += `, ${added} insertion${added === 1 ? '' : 's'}(+)`
  if (removed > 0 || added === 0) text += `, ${removed} deletion${removed === 1 ? '' : 's'}(-)`
  return text
}
