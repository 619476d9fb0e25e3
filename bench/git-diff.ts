import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { execa } from 'execa'
import { diffCommits, formatUnifiedDiff } from '../src/git/diff.js'
import { createBenchTree } from './copy-in.js'
import { formatResults, gitEnv, median, result, time, type BenchResult } from './lib.js'

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await execa('git', args, { cwd, env: gitEnv, stripFinalNewline: false })
  return stdout
}

/** Edits two lines in each of `count` tracked files spread over the tree, as one commit. */
async function commitEdits(project: string, count: number): Promise<void> {
  const files = (await git(project, 'ls-files', '*.ts')).trim().split('\n')
  const step = Math.floor(files.length / count)
  for (let i = 0; i < count; i++) {
    const file = path.join(project, files[i * step] ?? '')
    const lines = (await readFile(file, 'utf8')).split('\n')
    const middle = Math.floor(lines.length / 2)
    lines[middle] = `${lines[middle] ?? ''} // edited by the agent`
    lines.splice(middle + 2, 0, '  const added = true')
    await writeFile(file, lines.join('\n'))
  }
  await git(project, 'commit', '-q', '-am', 'edit 10 files')
}

// Reviewing one tool call must feel instant: one commit's diff against `git diff` of the same.
export async function benchGitDiff(options: {
  runs: number
  files?: number
}): Promise<BenchResult[]> {
  const count = options.files ?? 10_000
  const root = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-bench-diff-'))
  try {
    const { project } = await createBenchTree(root, count)
    await git(project, 'add', '-A')
    await git(project, 'commit', '-q', '-m', 'snapshot')
    await git(project, 'repack', '-a', '-d', '-q')
    await commitEdits(project, 10)
    const gitdir = path.join(project, '.git')
    let ourText = ''
    let theirText = ''
    const ours: number[] = []
    const warm: number[] = []
    const theirs: number[] = []
    const objectCache = {}
    const runOurs = async (): Promise<void> => {
      ours.push(
        await time(async () => {
          ourText = formatUnifiedDiff(await diffCommits({ gitdir }, { to: 'HEAD' }))
        }),
      )
      warm.push(
        await time(async () => {
          formatUnifiedDiff(await diffCommits({ gitdir, objectCache }, { to: 'HEAD' }))
        }),
      )
    }
    const runTheirs = async (): Promise<void> => {
      theirs.push(
        await time(async () => {
          theirText = await git(project, 'diff', '--no-color', '--no-renames', 'HEAD~1', 'HEAD')
        }),
      )
    }
    await runOurs()
    await runTheirs()
    // git lengthens abbreviated ids in big repositories; everything else must be identical.
    const withoutIndex = (text: string) => text.replace(/^index .*\n/gm, '')
    if (withoutIndex(ourText) !== withoutIndex(theirText)) {
      throw new Error('diffCommits output differs from git diff')
    }
    ours.length = 0
    warm.length = 0
    theirs.length = 0
    for (let i = 0; i < options.runs; i++) {
      const steps = i % 2 === 0 ? [runOurs, runTheirs] : [runTheirs, runOurs]
      for (const step of steps) await step()
    }
    if (process.env.BENCH_VERBOSE === '1') {
      console.error(`ours: ${ours.map((t) => t.toFixed(1)).join(' ')}`)
      console.error(`ours, session cache: ${warm.map((t) => t.toFixed(1)).join(' ')}`)
      console.error(`git diff: ${theirs.map((t) => t.toFixed(1)).join(' ')}`)
    }
    const what = `diff of a 10-file commit in ${count.toLocaleString('en')} files`
    const anchor = 'git diff HEAD~1 HEAD (git CLI, same repo)'
    return [
      result(`${what} median, first call`, anchor, median(ours), median(theirs), 2.0),
      result(`${what} median, session cache`, anchor, median(warm), median(theirs), 2.0),
    ]
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.env.BENCH_RUNS ?? 15)
  console.log(formatResults(await benchGitDiff({ runs })))
}
