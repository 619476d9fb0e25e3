/**
 * Shared pieces of the benchmarks: every figure is a ratio against an anchor measured in the
 * same run on the same machine, reported with medians (these machines are noisy).
 */

export interface BenchResult {
  /** What was measured, e.g. "exec round trip p50". */
  name: string
  /** What it was compared with, e.g. "docker exec CLI". */
  anchor: string
  ours: number
  theirs: number
  unit: 'ms' | 's'
  /** ours / theirs; lower is better. */
  ratio: number
  /** The target ratio (pass when ratio ≤ target). */
  target: number
}

export function median(values: number[]): number {
  return percentile(values, 50)
}

/** Nearest-rank percentile of a sample. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of an empty sample')
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] ?? Number.NaN
}

export function result(
  name: string,
  anchor: string,
  ours: number,
  theirs: number,
  target: number,
  unit: 'ms' | 's' = 'ms',
): BenchResult {
  return { name, anchor, ours, theirs, unit, ratio: ours / theirs, target }
}

/** Times one async call in milliseconds. */
export async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await fn()
  return performance.now() - start
}

/** A Markdown table of results, as recorded in docs/performance.md. */
export function formatResults(results: BenchResult[]): string {
  const rows = results.map((r) => {
    const verdict = r.ratio <= r.target ? 'meets' : 'misses'
    // No target: a figure recorded side by side (e.g. software emulation against containers).
    const target = Number.isFinite(r.target) ? `≤ ${r.target}× (${verdict})` : 'recorded'
    return `| ${r.name} | ${r.ours.toFixed(1)} ${r.unit} | ${r.anchor}: ${r.theirs.toFixed(1)} ${r.unit} | ${r.ratio.toFixed(2)}× | ${target} |`
  })
  return ['| measure | ours | anchor | ratio | target |', '|---|---|---|---|---|', ...rows].join(
    '\n',
  )
}

/** A small deterministic PRNG (mulberry32), so every run and machine generates the same trees. */
export function seeded(seed: number): () => number {
  let state = seed
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Median wall milliseconds of whole processes, the commands taking turns. */
export async function timeProcesses(
  commands: Record<string, () => Promise<unknown>>,
  runs: number,
): Promise<Record<string, number>> {
  const samples = Object.fromEntries(Object.keys(commands).map((name) => [name, [] as number[]]))
  const steps = Object.entries(commands)
  for (let i = 0; i < runs; i++) {
    for (const [name, run] of i % 2 === 0 ? steps : [...steps].reverse()) {
      samples[name]?.push(await time(run))
    }
  }
  if (process.env.BENCH_VERBOSE === '1') {
    for (const [name, times] of Object.entries(samples))
      console.error(`${name}: ${times.map((t) => t.toFixed(0)).join(' ')}`)
  }
  return Object.fromEntries(Object.entries(samples).map(([name, times]) => [name, median(times)]))
}

/** git for the benches' own fixtures: no user or system config, a fixed identity. */
export const gitEnv = {
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'bench',
  GIT_AUTHOR_EMAIL: 'bench@example.invalid',
  GIT_COMMITTER_NAME: 'bench',
  GIT_COMMITTER_EMAIL: 'bench@example.invalid',
}
