import { execa } from 'execa'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { createBenchTree } from './copy-in.js'
import { formatResults, median, result, time, type BenchResult } from './lib.js'

const cli = fileURLToPath(new URL('../bin/safe-coder', import.meta.url))

/**
 * Whole `safe-coder sync` and `sync --undo` processes through the built CLI (start-up included),
 * against `git apply` and `git apply -R` of the same change on a copy of the project: a session
 * that edited `changed` files of a `files`-file project. Needs `npm run build` and Docker.
 */
export async function benchCliSync(options: {
  runs: number
  files?: number
  changed?: number
}): Promise<BenchResult[]> {
  const { runs, files = 40_000, changed = 9_000 } = options
  const root = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-bench-cli-sync-'))
  const env = { XDG_STATE_HOME: path.join(root, 'state'), NO_COLOR: '1' }
  const run = (...args: string[]) => execa(cli, args, { env, stdin: 'ignore' })
  let id = ''
  try {
    const { project } = await createBenchTree(root, files)
    const tracked = (await execa('git', ['ls-files'], { cwd: project })).stdout.split('\n')
    const edited = tracked.filter((rel) => rel.startsWith('packages/')).slice(0, changed)
    const anchor = path.join(root, 'anchor')
    await cp(project, anchor, { recursive: true, verbatimSymlinks: true })
    const list = path.join(root, 'edited.txt')
    await writeFile(list, `${edited.join('\n')}\n`)
    await execa(
      cli,
      [
        'exec',
        '-q',
        '-p',
        project,
        '--',
        'sh',
        '-c',
        'while read f; do echo "// edited" >> "$f"; done',
      ],
      { env, inputFile: list },
    )
    const { sessions } = JSON.parse((await run('sessions', '--json')).stdout) as {
      sessions: { id: string }[]
    }
    id = sessions[0]?.id ?? ''
    const patch = path.join(root, 'change.patch')
    for (const rel of edited) {
      const file = path.join(anchor, rel)
      await writeFile(file, `${await readFile(file, 'utf8')}// edited\n`)
    }
    await writeFile(
      patch,
      (await execa('git', ['diff', '--binary'], { cwd: anchor })).stdout + '\n',
    )
    await execa('git', ['checkout', '-q', '.'], { cwd: anchor })
    const startup: number[] = []
    const times = {
      sync: [] as number[],
      undo: [] as number[],
      apply: [] as number[],
      reverse: [] as number[],
    }
    for (let i = 0; i < runs; i++) {
      await execa('sync')
      times.apply.push(await time(() => execa('git', ['apply', patch], { cwd: anchor })))
      await execa('sync')
      times.reverse.push(await time(() => execa('git', ['apply', '-R', patch], { cwd: anchor })))
      await execa('sync')
      startup.push(await time(() => run('--version')))
      times.sync.push(await time(() => run('sync', id, '--yes')))
      await execa('sync')
      times.undo.push(await time(() => run('sync', '--undo', id)))
    }
    if (process.env.BENCH_VERBOSE === '1') {
      for (const [name, values] of Object.entries({ ...times, startup }))
        console.error(`${name}: ${values.map((t) => t.toFixed(0)).join(' ')}`)
    }
    const what = `${changed.toLocaleString('en-US')} changed files of a ${files.toLocaleString('en-US')}-file project`
    const base = median(startup)
    return [
      result(
        `safe-coder sync, ${what}, whole process, median`,
        'git apply of the same change',
        median(times.sync),
        median(times.apply),
        3,
      ),
      result(
        `safe-coder sync --undo, ${what}, whole process, median`,
        'git apply -R',
        median(times.undo),
        median(times.reverse),
        3,
      ),
      result(
        `the same sync less process start-up (safe-coder --version: ${base.toFixed(0)} ms)`,
        'git apply',
        median(times.sync) - base,
        median(times.apply),
        3,
      ),
      result(
        `the same undo less process start-up`,
        'git apply -R',
        median(times.undo) - base,
        median(times.reverse),
        3,
      ),
    ]
  } finally {
    // The session's mirror may be a mounted disk: discarding it unmounts it.
    if (id !== '') await run('discard', id, '--yes')
    await rm(root, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.env.BENCH_RUNS ?? 5)
  const files = Number(process.env.BENCH_FILES ?? 40_000)
  const changed = Number(process.env.BENCH_CHANGED ?? 9_000)
  console.log(formatResults(await benchCliSync({ runs, files, changed })))
}
