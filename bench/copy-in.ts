import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { execa } from 'execa'
import { copyIn, defaultConcurrency } from '../src/workspace/copy-in.js'
import { formatResults, median, result, seeded, time, type BenchResult } from './lib.js'

/** What the generated project holds; the copy must take exactly the `kept` part. */
interface BenchTree {
  project: string
  /** Top-level entries that are neither `.git` nor ignored: what `cp -a` copies. */
  topLevel: string[]
  kept: { files: number; bytes: number }
}

/** Source-like text of exactly `bytes` bytes. */
function sourceText(bytes: number, salt: number): string {
  const lines: string[] = []
  let length = 0
  for (let i = 0; length < bytes; i++) {
    const line = `export function step${salt}_${i}(input: number): number {\n  return input * ${i} + ${salt} // keep going\n}\n`
    lines.push(line)
    length += line.length
  }
  return lines.join('').slice(0, bytes)
}

/** Sizes drawn log-uniformly between 200 B and 400 KB, then scaled to `totalBytes`. */
function fileSizes(count: number, totalBytes: number, random: () => number): number[] {
  const raw = Array.from({ length: count }, () =>
    Math.exp(Math.log(200) + random() * Math.log(2000)),
  )
  const scale = totalBytes / raw.reduce((sum, size) => sum + size, 0)
  return raw.map((size) => Math.max(1, Math.round(size * scale)))
}

async function writeFiles(root: string, files: [string, string][]): Promise<void> {
  const dirs = new Set(files.map(([rel]) => path.dirname(path.join(root, rel))))
  for (const dir of dirs) await mkdir(dir, { recursive: true })
  for (let i = 0; i < files.length; i += 64) {
    await Promise.all(
      files.slice(i, i + 64).map(([rel, text]) => writeFile(path.join(root, rel), text)),
    )
  }
}

/**
 * A git project of `count` files (~6.9 KB on average, in nested package/module directories;
 * a tenth untracked) plus an ignored node_modules of further files that must not be copied.
 */
export async function createBenchTree(root: string, count: number): Promise<BenchTree> {
  const random = seeded(42)
  const project = path.join(root, 'project')
  const sizes = fileSizes(count - 3, count * 6900, random)
  const files: [string, string][] = [
    ['.gitignore', 'node_modules/\n*.log\ndist/\n'],
    ['package.json', '{ "name": "bench-project", "private": true }\n'],
    ['README.md', '# Bench project\n'],
  ]
  sizes.forEach((size, i) => {
    const pkg = `packages/pkg-${i % 24}`
    const depth = Math.floor(random() * 3)
    const nested = Array.from({ length: depth }, (_, d) => `mod-${(i >> (d + 2)) % 5}`)
    const ext = random() < 0.8 ? 'ts' : random() < 0.5 ? 'json' : 'md'
    files.push([path.posix.join(pkg, 'src', ...nested, `file-${i}.${ext}`), sourceText(size, i)])
  })
  const ignored: [string, string][] = Array.from({ length: Math.round(count / 5) }, (_, i) => [
    `node_modules/dep-${i % 40}/lib/index-${i}.js`,
    sourceText(4000, i),
  ])
  const untracked = files.splice(files.length - Math.round(count / 10))
  await writeFiles(project, files)
  await git(project, 'init', '-q')
  await git(project, 'add', '-A')
  await git(project, 'commit', '-q', '-m', 'bench tree')
  await writeFiles(project, [...untracked, ...ignored, ['debug.log', 'ignored\n']])
  const all = [...files, ...untracked]
  return {
    project,
    topLevel: ['.gitignore', 'package.json', 'README.md', 'packages'],
    kept: { files: all.length, bytes: all.reduce((sum, [, text]) => sum + text.length, 0) },
  }
}

function git(cwd: string, ...args: string[]) {
  return execa('git', args, {
    cwd,
    env: {
      GIT_AUTHOR_NAME: 'bench',
      GIT_AUTHOR_EMAIL: 'bench@example.invalid',
      GIT_COMMITTER_NAME: 'bench',
      GIT_COMMITTER_EMAIL: 'bench@example.invalid',
    },
  }).then(() => undefined)
}

// Copy-in is on the path of every session start: it must not be slower than a plain `cp -a`.
export async function benchCopyIn(options: {
  runs: number
  files?: number
  concurrency?: number[]
}): Promise<BenchResult[]> {
  const count = options.files ?? 10_000
  const levels = options.concurrency ?? [defaultConcurrency]
  const root = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-bench-copy-'))
  try {
    const tree = await createBenchTree(root, count)
    const ours = new Map<number, number[]>(levels.map((level) => [level, []]))
    const anchor: number[] = []
    let slot = 0
    const runOurs = async (concurrency: number): Promise<void> => {
      const mirrorDir = path.join(root, `ours-${slot++}`)
      await execa('sync')
      let copied = { files: 0, bytes: 0 }
      ours.get(concurrency)?.push(
        await time(async () => {
          copied = await copyIn({ projectDir: tree.project, mirrorDir, concurrency })
        }),
      )
      if (copied.files !== tree.kept.files || copied.bytes !== tree.kept.bytes) {
        throw new Error(`copy-in copied ${copied.files} files, expected ${tree.kept.files}`)
      }
      await rm(mirrorDir, { recursive: true })
    }
    const runAnchor = async (): Promise<void> => {
      const target = path.join(root, `cp-${slot++}`)
      await mkdir(target)
      await execa('sync')
      const sources = tree.topLevel.map((name) => path.join(tree.project, name))
      anchor.push(await time(() => execa('cp', ['-a', ...sources, target])))
      await rm(target, { recursive: true })
    }
    for (let i = 0; i < options.runs; i++) {
      // Alternate who goes first: the page cache and writeback favour neither side.
      const steps = [...levels.map((level) => () => runOurs(level)), runAnchor]
      if (i % 2 === 1) steps.reverse()
      for (const step of steps) await step()
    }
    if (process.env.BENCH_VERBOSE === '1') {
      for (const [level, times] of ours)
        console.error(`ours(${level}): ${times.map((t) => t.toFixed(0)).join(' ')}`)
      console.error(`cp -a: ${anchor.map((t) => t.toFixed(0)).join(' ')}`)
    }
    const megabytes = (tree.kept.bytes / 1e6).toFixed(0)
    const what = `copy-in ${count.toLocaleString('en')} files, ${megabytes} MB (git listing)`
    const anchorText = 'cp -a of the same files (project top level minus .git, node_modules)'
    return levels.map((level) =>
      result(
        levels.length === 1 ? `${what} median` : `${what} median, concurrency ${level}`,
        anchorText,
        median(ours.get(level) ?? []),
        median(anchor),
        1.0,
      ),
    )
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.env.BENCH_RUNS ?? 7)
  const concurrency = process.env.BENCH_CONCURRENCY?.split(',').map(Number)
  console.log(formatResults(await benchCopyIn({ runs, concurrency })))
}
