import type { StatsView } from '../state/types.js'
import type { Theme } from '../theme.js'
import { sparkline } from '../state/select.js'
import { fitRight } from './text-fit.js'

/** `512 MiB`, `1.2 GiB`: binary units, one decimal under 10. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = Math.max(0, bytes)
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  const digits = unit === 0 || value >= 10 ? 0 : 1
  return `${value.toFixed(digits)} ${units[unit] ?? 'B'}`
}

/** `45s`, `3m 12s`, `2h 05m`, `3d 4h`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`
  if (s < 86_400)
    return `${Math.floor(s / 3600)}h ${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`
  return `${Math.floor(s / 86_400)}d ${Math.floor(s / 3600) % 24}h`
}

export function formatPercent(value: number): string {
  return value < 10 ? `${value.toFixed(1)}%` : `${Math.round(value)}%`
}

/** A bar of full and light blocks, readable without colour. */
export function bar(fraction: number, width: number): string {
  if (width <= 0) return ''
  const filled = Math.round(Math.min(Math.max(fraction, 0), 1) * width)
  return '█'.repeat(filled) + '░'.repeat(width - filled)
}

export interface GaugeOptions {
  theme: Theme
  width: number
  height: number
  now: number
  /** The sandbox is not running (uptime stops meaning anything). */
  stopped: boolean
}

const label = 6

/**
 * The gauge rows for the stats of one session, tagged. When the pane is short, the least useful
 * rows go first (history graphs, then I/O), so the numbers survive in the compact layout.
 */
export function gaugeRows(stats: StatsView, options: GaugeOptions): string[] {
  const { theme, width } = options
  const latest = stats.latest
  if (latest === undefined) {
    const text = options.stopped ? 'sandbox not running' : 'waiting for the sandbox…'
    return [theme.tag(theme.dim, text)]
  }
  const rows: { text: string; rank: number }[] = []
  const add = (rank: number, text: string): void => {
    rows.push({ text, rank })
  }
  const indent = ' '.repeat(label)
  const graph = (values: number[], max?: number): string =>
    indent + theme.tag(theme.accent, sparkline(values, width - label, max))
  const level = (fraction: number, text: string): string =>
    theme.tag(fraction >= 0.9 ? theme.error : fraction >= 0.7 ? theme.warn : theme.ok, text)
  const gauge = (name: string, fraction: number, value: string): string => {
    const barWidth = width - label - 7
    const drawn = barWidth > 0 ? ` ${level(fraction, bar(fraction, barWidth))}` : ''
    return `${name.padEnd(label)}${fitRight(value, 6)}${drawn}`
  }

  const cpu = latest.cpuPercent / 100
  add(1, gauge('cpu', cpu, formatPercent(latest.cpuPercent)))
  add(4, graph(stats.cpuPercent, 100))
  const limit = latest.memoryLimitBytes
  if (limit > 0) {
    const mem = latest.memoryBytes / limit
    add(1, gauge('mem', mem, formatPercent(mem * 100)))
    add(2, `${indent}${formatBytes(latest.memoryBytes)} / ${formatBytes(limit)}`)
    add(4, graph(stats.memoryBytes, limit))
  } else {
    add(1, `${'mem'.padEnd(label)}${formatBytes(latest.memoryBytes)} (no limit)`)
    add(4, graph(stats.memoryBytes))
  }
  const up =
    options.stopped || stats.startedAt === undefined
      ? ''
      : `  up ${formatDuration(options.now - stats.startedAt)}`
  add(2, `${'pids'.padEnd(label)}${latest.pids}${up}`)
  const io = (a: string, b: string, x: number, y: number): string =>
    `${a} ${formatBytes(x)}  ${b} ${formatBytes(y)}`
  add(3, `${'disk'.padEnd(label)}${io('r', 'w', latest.blockReadBytes, latest.blockWriteBytes)}`)
  add(3, `${'net'.padEnd(label)}${io('rx', 'tx', latest.netRxBytes, latest.netTxBytes)}`)

  for (let rank = 4; rows.length > options.height && rank > 1; rank--) {
    for (let i = rows.length - 1; i >= 0 && rows.length > options.height; i--) {
      if (rows[i]?.rank === rank) rows.splice(i, 1)
    }
  }
  return rows.map((r) => r.text)
}
