import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { execa } from 'execa'
import { commitChanges, initAuditRepo, snapshot, type AuditRepo } from '../src/git/index.js'
import { formatResults, median, result, seeded, time, type BenchResult } from './lib.js'

function sourceText(bytes: number, salt: number): string {
  const line = `export const value${salt} = ${salt} // a line of source text, repeated\n`
  return line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes)
}

/** `count` files of 200 B – 40 KB (log-uniform) in nested package/module directories. */
export async function createTree(dir: string, count: number): Promise<string[]> {
  const random = seeded(7)
  const files: string[] = []
  for (let i = 0; i < count; i++) {
    const nested = Array.from(
      { length: Math.floor(random() * 3) },
      (_, d) => `mod-${(i >> (d + 2)) % 5}`,
    )
    files.push(path.posix.join(`packages/pkg-${i % 24}`, 'src', ...nested, `file-${i}.ts`))
  }
  for (const parent of new Set(files.map((rel) => path.dirname(path.join(dir, rel))))) {
    await mkdir(parent, { recursive: true })
  }
  for (let i = 0; i < files.length; i += 64) {
    await Promise.all(
      files.slice(i, i + 64).map((rel, j) => {
        const size = Math.round(Math.exp(Math.log(200) + random() * Math.log(200)))
        return writeFile(path.join(dir, rel), sourceText(size, i + j))
      }),
    )
  }
  return files
}

const gitEnv = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' }

/** The anchor: `git add -A && git commit` with the git CLI, no fsmonitor, no auto gc. */
export async function cliCommit(dir: string): Promise<void> {
  const git = (...args: string[]) =>
    execa(
      'git',
      [
        '-c',
        'core.fsmonitor=false',
        '-c',
        'gc.auto=0',
        '-c',
        'user.name=b',
        '-c',
        'user.email=b@b',
        ...args,
      ],
      {
        cwd: dir,
        env: gitEnv,
      },
    )
  await git('add', '-A')
  await git('commit', '-q', '--allow-empty', '-m', 'bench')
}

async function touch(dirs: string[], files: string[], round: number): Promise<void> {
  for (const dir of dirs) {
    await Promise.all(files.map((rel) => writeFile(path.join(dir, rel), `changed ${round}\n`)))
  }
}

// The audit repository against the git CLI recording the same tree: the anchor of issue 3.
export async function benchGitCommit(options: {
  runs: number
  sizes?: number[]
}): Promise<BenchResult[]> {
  const results: BenchResult[] = []
  for (const size of options.sizes ?? [1000, 10_000, 50_000]) {
    const root = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-bench-git-'))
    try {
      const ours = path.join(root, 'ours')
      const theirs = path.join(root, 'theirs')
      const files = await createTree(ours, size)
      await execa('cp', ['-a', ours, theirs])
      const snapOurs: number[] = []
      const snapTheirs: number[] = []
      let repo: AuditRepo | undefined
      for (let run = 0; run < options.runs; run++) {
        await execa('sync')
        const fresh = await initAuditRepo({
          gitdir: path.join(root, `audit-${run}.git`),
          workDir: ours,
        })
        snapOurs.push(await time(() => snapshot(fresh, { message: 'snapshot' })))
        repo = fresh
        await rm(path.join(theirs, '.git'), { recursive: true, force: true })
        await execa('git', ['init', '-q', theirs], { env: gitEnv })
        await execa('sync')
        snapTheirs.push(await time(() => cliCommit(theirs)))
      }
      const cli = 'git add -A && git commit (CLI)'
      results.push(
        result(`snapshot, ${size} files`, cli, median(snapOurs), median(snapTheirs), 1.0),
      )
      if (repo === undefined) continue
      let round = 0
      for (const changed of [1, 10]) {
        for (const scan of [false, true]) {
          const oursMs: number[] = []
          const theirsMs: number[] = []
          for (let run = 0; run < Math.max(3, options.runs); run++) {
            const picked = Array.from(
              { length: changed },
              (_, i) => files[(round * 37 + i * 997) % files.length] as string,
            )
            await touch([ours, theirs], picked, ++round)
            const current = repo
            oursMs.push(
              await time(() =>
                commitChanges(
                  current,
                  scan ? { message: 'bash', scan } : { message: 'edit', paths: picked },
                ),
              ),
            )
            theirsMs.push(await time(() => cliCommit(theirs)))
          }
          const how = scan ? 'found by scan' : 'reported paths'
          results.push(
            result(
              `commit ${changed} changed, ${how}, ${size} files`,
              cli,
              median(oursMs),
              median(theirsMs),
              scan ? 1.0 : 0.5,
            ),
          )
        }
      }
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  }
  return results
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.env.BENCH_RUNS ?? 3)
  const sizes = process.env.BENCH_SIZES?.split(',').map(Number)
  console.log(formatResults(await benchGitCommit(sizes === undefined ? { runs } : { runs, sizes })))
}
