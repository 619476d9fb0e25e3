/**
 * The gauntlet's runner (`npm run gauntlet`, via scripts/gauntlet.ts): runs the suite with
 * vitest's JSON reporter, then rewrites the scorecard in docs/security.md and the load figure in
 * docs/performance.md between their marker comments.
 *
 *   npm run gauntlet                       # the full run, every backend in SAFE_CODER_GAUNTLET_BACKENDS
 *   npm run gauntlet -- --quick            # the CI subset
 *   npm run gauntlet -- --backend qemu     # another backend (repeatable, or comma-separated)
 *   npm run gauntlet -- -t "symlink"       # some cases only (the docs are then left alone)
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as prettier from 'prettier'
import type { GauntletMeta, Kind } from './helpers/cases.js'

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const KINDS: Kind[] = ['attack', 'fault', 'input', 'load']
const KIND_TITLE: Record<Kind, string> = {
  attack: 'attack',
  fault: 'fault',
  input: 'bad input',
  load: 'load',
}

export const SCORECARD_START = '<!-- gauntlet:scorecard:start -->'
export const SCORECARD_END = '<!-- gauntlet:scorecard:end -->'
export const THROUGHPUT_START = '<!-- gauntlet:throughput:start -->'
export const THROUGHPUT_END = '<!-- gauntlet:throughput:end -->'

interface RunnerOptions {
  quick: boolean
  backends: string[]
  testNamePattern?: string
  files: string[]
  write: boolean
}

interface AssertionResult {
  ancestorTitles: string[]
  title: string
  status: 'passed' | 'failed' | 'skipped' | 'pending' | 'todo'
  duration?: number
  failureMessages: string[]
  meta?: GauntletMeta
}

interface JsonReport {
  numTotalTests: number
  numPassedTests: number
  numFailedTests: number
  testResults: {
    name: string
    status: string
    message: string
    assertionResults: AssertionResult[]
  }[]
}

/** One case on one backend. */
export interface CaseResult {
  kind: Kind
  backend: string
  title: string
  result: 'pass' | 'fail' | 'skip'
  durationMs: number
  notes: string[]
  failure?: string
  meta: GauntletMeta
}

function parseArgs(argv: string[]): RunnerOptions {
  const options: RunnerOptions = {
    quick: false,
    backends: (process.env.SAFE_CODER_GAUNTLET_BACKENDS ?? '').split(',').filter((b) => b !== ''),
    files: [],
    write: true,
  }
  const fromFlags: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ''
    const value = (): string => {
      const next = argv[++i]
      if (next === undefined) throw new Error(`${arg} needs a value`)
      return next
    }
    if (arg === '--quick') options.quick = true
    else if (arg === '--full') options.quick = false
    else if (arg === '--backend' || arg === '-b') fromFlags.push(...value().split(','))
    else if (arg.startsWith('--backend=')) fromFlags.push(...arg.slice(10).split(','))
    else if (arg === '-t' || arg === '--filter') options.testNamePattern = value()
    else if (arg === '--no-write') options.write = false
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(
        'usage: npm run gauntlet -- [--quick] [--backend docker[,qemu]] [-t PATTERN] [--no-write] [FILE…]\n',
      )
      process.exit(0)
    } else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}`)
    else options.files.push(arg)
  }
  if (fromFlags.length > 0) options.backends = fromFlags
  if (options.backends.length === 0) options.backends = ['docker']
  // A partial run must not replace the whole scorecard.
  if (options.testNamePattern !== undefined || options.files.length > 0) options.write = false
  return options
}

function runVitest(options: RunnerOptions, outputFile: string): Promise<number> {
  const vitest = path.join(repoRoot, 'node_modules/vitest/vitest.mjs')
  const args = [
    vitest,
    'run',
    '--config',
    'test/gauntlet/vitest.config.ts',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${outputFile}`,
    ...(options.testNamePattern === undefined ? [] : ['-t', options.testNamePattern]),
    ...options.files,
  ]
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: repoRoot,
      stdio: 'inherit',
      env: {
        ...process.env,
        SAFE_CODER_GAUNTLET_QUICK: options.quick ? '1' : '0',
        SAFE_CODER_GAUNTLET_BACKENDS: options.backends.join(','),
      },
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      resolve(code ?? (signal === null ? 1 : 128))
    })
  })
}

/** The cases of a JSON report, keyed by the suite's `backend › kind › title` layout. */
export function collect(report: JsonReport): CaseResult[] {
  const out: CaseResult[] = []
  for (const file of report.testResults) {
    for (const a of file.assertionResults) {
      const [backend, kind] = a.ancestorTitles
      if (backend === undefined || kind === undefined || !KINDS.includes(kind as Kind)) continue
      const meta = a.meta ?? {}
      out.push({
        kind: kind as Kind,
        backend,
        title: a.title,
        result: a.status === 'passed' ? 'pass' : a.status === 'failed' ? 'fail' : 'skip',
        durationMs: a.duration ?? 0,
        notes: meta.notes ?? [],
        ...(a.failureMessages.length > 0 ? { failure: firstLine(a.failureMessages[0] ?? '') } : {}),
        meta,
      })
    }
    if (file.status === 'failed' && file.assertionResults.length === 0) {
      out.push({
        kind: 'attack',
        backend: '?',
        title: `${path.basename(file.name)} did not load`,
        result: 'fail',
        durationMs: 0,
        notes: [],
        failure: firstLine(file.message),
        meta: {},
      })
    }
  }
  return out
}

function firstLine(message: string): string {
  // eslint-disable-next-line no-control-regex
  const plain = message.replace(/\u001b\[[0-9;]*m/g, '')
  const line = plain.split('\n').find((l) => l.trim() !== '') ?? ''
  return line.trim().slice(0, 220)
}

/** A table cell: one line, pipes escaped, run-specific paths and ids made stable. */
function cell(text: string): string {
  return text
    .replace(/\/tmp\/sc-gauntlet-[A-Za-z0-9]+/g, '<tmp>')
    .replace(/\bs-[a-z0-9]{8}-[0-9a-f]{8}\b/g, 's-…')
    .replace(/\b[0-9a-f]{40,64}\b/g, (oid) => `${oid.slice(0, 12)}…`)
    .replace(/\|/g, '\\|')
    .replace(/\s*\n\s*/g, ' ')
}

function verdict(c: CaseResult | undefined): string {
  if (c === undefined) return '—'
  if (c.result === 'pass') return c.meta.limitation === undefined ? 'pass' : 'pass (limitation)'
  if (c.result === 'fail') return '**FAIL**'
  return `skipped${c.meta.skipped === undefined ? '' : ` (${c.meta.skipped})`}`
}

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000)
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`
}

/** The scorecard: one row per case, one result column per backend. */
export function scorecard(
  cases: CaseResult[],
  run: { quick: boolean; backends: string[]; wallMs: number; date: Date },
): string {
  const backends = run.backends
  const titles: { kind: Kind; title: string }[] = []
  const seen = new Set<string>()
  for (const kind of KINDS) {
    for (const c of cases) {
      const key = `${c.kind}\u0000${c.title}`
      if (c.kind !== kind || seen.has(key)) continue
      seen.add(key)
      titles.push({ kind, title: c.title })
    }
  }
  const find = (kind: Kind, title: string, backend: string) =>
    cases.find((c) => c.kind === kind && c.title === title && c.backend === backend)
  const counts = { pass: 0, fail: 0, skip: 0 }
  for (const c of cases) counts[c.result]++
  const lines = [
    `Last run: ${run.date.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${run.quick ? 'quick subset (`npm run gauntlet -- --quick`)' : 'full run (`npm run gauntlet`)'}, ${formatDuration(run.wallMs)}; backends: ${backends.join(', ')}. ${cases.length} case runs: ${counts.pass} pass, ${counts.fail} fail, ${counts.skip} skipped.`,
    '',
    `| kind | case | ${backends.join(' | ')} | notes |`,
    `| ---- | ---- | ${backends.map(() => '----').join(' | ')} | ----- |`,
  ]
  for (const { kind, title } of titles) {
    const per = backends.map((b) => find(kind, title, b))
    const notes = per.flatMap((c) => {
      if (c === undefined) return []
      const prefix = backends.length > 1 ? `${c.backend}: ` : ''
      const parts = [...c.notes]
      if (c.meta.limitation !== undefined) parts.push(`limitation: ${c.meta.limitation}`)
      if (c.result === 'fail' && c.failure !== undefined) parts.push(`failed: ${c.failure}`)
      return parts.length === 0 ? [] : [`${prefix}${parts.join('; ')}`]
    })
    lines.push(
      `| ${KIND_TITLE[kind]} | ${cell(title)} | ${per.map(verdict).join(' | ')} | ${cell(notes.join(' / '))} |`,
    )
  }
  return lines.join('\n')
}

/**
 * The load figure for docs/performance.md: one row per backend and kind of run (quick, full),
 * each replaced by the latest run of its kind; rows of other kinds are kept from `previous`.
 */
export function throughputSection(
  cases: CaseResult[],
  date: Date,
  previous = '',
): string | undefined {
  const measured = cases.filter((c) => c.result === 'pass' && c.meta.throughput !== undefined)
  if (measured.length === 0) return undefined
  const day = date.toISOString().slice(0, 16).replace('T', ' ')
  const rows = new Map<string, string>()
  for (const line of previous.split('\n')) {
    const m = /^\| (\S+) \| (quick|full) \|/.exec(line)
    if (m !== null) rows.set(`${m[1] ?? ''} ${m[2] ?? ''}`, line)
  }
  for (const c of measured) {
    const t = c.meta.throughput
    if (t === undefined) continue
    const kind = t.quick ? 'quick' : 'full'
    rows.set(
      `${t.backend} ${kind}`,
      `| ${t.backend} | ${kind} | ${t.sessions} × ${t.callsPerSession} = ${t.toolCalls} | ${t.seconds.toFixed(1)} s | **${t.callsPerSecond.toFixed(1)}** | ${day} UTC |`,
    )
  }
  return [
    '| backend | run | sessions × tool calls | wall time | tool calls per second (all sessions) | measured |',
    '| ------- | --- | --------------------- | --------- | ------------------------------------ | -------- |',
    ...[...rows.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, line]) => line),
  ].join('\n')
}

/** What lies between two marker comments now ('' when they are missing). */
export function between(text: string, start: string, end: string): string {
  const a = text.indexOf(start)
  const b = text.indexOf(end)
  return a === -1 || b === -1 || b < a ? '' : text.slice(a + start.length, b)
}

/** Replaces what lies between two marker comments; the markers must exist. */
export function replaceBetween(text: string, start: string, end: string, body: string): string {
  const a = text.indexOf(start)
  const b = text.indexOf(end)
  if (a === -1 || b === -1 || b < a) throw new Error(`markers ${start} … ${end} not found`)
  return `${text.slice(0, a + start.length)}\n\n${body}\n\n${text.slice(b)}`
}

/** Rewrites one marked section, formatted as `npm run format` would (the docs stay check-clean). */
async function rewrite(file: string, start: string, end: string, body: string): Promise<void> {
  const text = replaceBetween(await readFile(file, 'utf8'), start, end, body)
  const options = (await prettier.resolveConfig(file)) ?? {}
  await writeFile(file, await prettier.format(text, { ...options, filepath: file }))
}

export async function main(argv: string[]): Promise<number> {
  const options = parseArgs(argv)
  if (!existsSync(path.join(repoRoot, 'dist/cli/entry.js'))) {
    process.stderr.write(
      'gauntlet: dist/ is missing: run `npm run build` first (npm run gauntlet does).\n',
    )
    return 1
  }
  // Kept after the run (the last report of this machine), for a closer look at a failure.
  const outputFile = path.join(os.tmpdir(), 'safe-coder-gauntlet-report.json')
  await rm(outputFile, { force: true })
  const started = Date.now()
  const status = await runVitest(options, outputFile)
  const wallMs = Date.now() - started
  if (!existsSync(outputFile)) {
    process.stderr.write(`gauntlet: vitest wrote no report (exit ${status}).\n`)
    return status === 0 ? 1 : status
  }
  const report = JSON.parse(await readFile(outputFile, 'utf8')) as JsonReport
  const cases = collect(report)
  const date = new Date()
  const card = scorecard(cases, { quick: options.quick, backends: options.backends, wallMs, date })
  const failed = cases.filter((c) => c.result === 'fail')
  process.stdout.write(
    `\ngauntlet: ${cases.length} case runs in ${formatDuration(wallMs)}: ${cases.filter((c) => c.result === 'pass').length} pass, ${failed.length} fail, ${cases.filter((c) => c.result === 'skip').length} skipped.\n`,
  )
  for (const f of failed)
    process.stdout.write(`  FAIL ${f.backend} › ${f.kind} › ${f.title}: ${f.failure ?? ''}\n`)
  if (options.write) {
    await rewrite(path.join(repoRoot, 'docs/security.md'), SCORECARD_START, SCORECARD_END, card)
    process.stdout.write('gauntlet: scorecard written to docs/security.md\n')
    const performance = path.join(repoRoot, 'docs/performance.md')
    const previous = between(await readFile(performance, 'utf8'), THROUGHPUT_START, THROUGHPUT_END)
    const throughput = throughputSection(cases, date, previous)
    if (throughput !== undefined) {
      await rewrite(performance, THROUGHPUT_START, THROUGHPUT_END, throughput)
      process.stdout.write('gauntlet: throughput written to docs/performance.md\n')
    }
  } else {
    process.stdout.write('gauntlet: partial run (or --no-write): docs left unchanged\n')
  }
  return status
}
