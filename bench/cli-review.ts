import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { execa } from 'execa'
import { detachWorkspaceDisk } from '../src/sandbox/disk/workspace-disk.js'
import { createCliTree } from './cli-tree.js'
import { formatResults, result, timeProcesses, type BenchResult } from './lib.js'

const bin = fileURLToPath(new URL('../bin/safe-coder', import.meta.url))
const gitEnv = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_PAGER: 'cat' }

/** A session on the project: commit 0, then `edits` recorded tool calls, each changing a few files. */
async function recordSession(
  env: NodeJS.ProcessEnv,
  project: string,
  textFiles: string[],
  edits: number,
): Promise<string> {
  const first = await execa(bin, ['exec', '-b', 'docker', '-p', project, '--', 'true'], { env })
  const id = /session (s-[a-z0-9-]+)/.exec(first.stderr)?.[1]
  if (id === undefined) throw new Error(`no session id in: ${first.stderr}`)
  for (let call = 0; call < edits; call++) {
    const files = [0, 1, 2].map((k) => textFiles[(call * 977 + k * 4801) % textFiles.length])
    const script = [
      `sed -i '3s/$/ \\/\\/ edited ${call}/' ${files[0]}`,
      `echo 'export const added${call} = ${call}' >> ${files[1]}`,
      call % 3 === 0 ? `rm ${files[2]}` : `printf 'new\\n' > packages/new-${call}.ts`,
      call === 1 ? "printf '\\211PNG\\0\\0' > assets/new.png" : 'true',
    ].join(' && ')
    await execa(bin, ['exec', '-q', '-s', id, '--', 'sh', '-c', script], { env })
  }
  return id
}

// Reviewing a session must cost about what reviewing the same history with git costs.
export async function benchCliReview(options: {
  runs: number
  files?: number
  edits?: number
}): Promise<BenchResult[]> {
  const count = options.files ?? 40_000
  const root = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-bench-review-'))
  try {
    const env = {
      ...process.env,
      XDG_STATE_HOME: path.join(root, 'state'),
      XDG_CONFIG_HOME: path.join(root, 'config'),
    }
    await mkdir(env.XDG_STATE_HOME, { recursive: true })
    const { project, textFiles } = await createCliTree(root, count)
    const id = await recordSession(env, project, textFiles, options.edits ?? 5)
    const gitdir = path.join(env.XDG_STATE_HOME, 'safe-coder', 'sessions', id, 'audit.git')
    const git = (...args: string[]) => execa('git', ['--git-dir', gitdir, ...args], { env: gitEnv })
    const rootCommit = (await git('rev-list', '--max-parents=0', 'HEAD')).stdout.trim()
    const ours = (...args: string[]) => execa(bin, args, { env, cwd: project })
    // The same history, the same answer: the whole-session diff must be git's, but for the
    // abbreviated ids and the wording of binary files.
    const withoutIndex = (text: string) =>
      text.replace(/^index .*\n/gm, '').replace(/^Binary file.*\n/gm, '')
    const ourDiff = (await ours('diff', id)).stdout
    const gitDiff = (await git('diff', '--no-color', '--no-renames', rootCommit, 'HEAD')).stdout
    if (withoutIndex(ourDiff) !== withoutIndex(gitDiff)) throw new Error('diff differs from git')
    const t = await timeProcesses(
      {
        version: () => ours('--version'),
        gitVersion: () => execa('git', ['--version']),
        log: () => ours('log', id),
        diff: () => ours('diff', id),
        gitLog: () => git('log', '--numstat'),
        gitDiff: () => git('diff', '--no-color', '--no-renames', rootCommit, 'HEAD'),
      },
      options.runs,
    )
    const at = (name: string) => t[name] ?? Number.NaN
    const [version, log, diff, gitLog, gitDiffTime] = [
      at('version'),
      at('log'),
      at('diff'),
      at('gitLog'),
      at('gitDiff'),
    ]
    const tree = `${count.toLocaleString('en')}-file project, ${(options.edits ?? 5) + 1} commits`
    const logAnchor = 'git log --numstat (git CLI, same audit repository)'
    const diffAnchor = 'git diff <commit 0> HEAD (git CLI, same audit repository)'
    return [
      result(`safe-coder log, ${tree}, whole process median`, logAnchor, log, gitLog, 1.5),
      result(`safe-coder diff, ${tree}, whole process median`, diffAnchor, diff, gitDiffTime, 1.5),
      // What the command itself costs, start-up (measured as `--version`) taken away.
      result('safe-coder log beyond start-up median', logAnchor, log - version, gitLog, 1.5),
      result(
        'safe-coder diff beyond start-up median',
        diffAnchor,
        diff - version,
        gitDiffTime,
        1.5,
      ),
      result(
        'safe-coder --version (start-up) median',
        'git --version',
        version,
        at('gitVersion'),
        Infinity,
      ),
    ]
  } finally {
    // A session's work dir is its mounted workspace disk where Safe Coder can mount one.
    const sessions = path.join(root, 'state', 'safe-coder', 'sessions')
    for (const id of await readdir(sessions).catch(() => [])) {
      await detachWorkspaceDisk(path.join(sessions, id, 'work'))
    }
    await rm(root, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.env.BENCH_RUNS ?? 9)
  const files = Number(process.env.BENCH_FILES ?? 40_000)
  console.log(formatResults(await benchCliReview({ runs, files })))
}
