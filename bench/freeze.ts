import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { execa } from 'execa'
import { commitChanges, initAuditRepo, snapshot } from '../src/git/index.js'
import { createId } from '../src/shared/ids.js'
import { SANDBOX_IMAGE } from '../src/shared/version.js'
import { backendFor } from './exec.js'
import { cliCommit, createTree } from './git-commit.js'
import { formatResults, median, result, time, type BenchResult } from './lib.js'

/**
 * What freezing the sandbox costs the commit after a shell command (issue 14 item 3). A live
 * sandbox on a generated tree; each round a command changes one file in it, then the scan
 * commit runs once with the sandbox paused through the Engine API and once without (the order
 * alternates), against `git add -A && git commit` of the same change on an identical copy.
 * Also the bare pause + unpause round trip, against the docker CLI doing the same.
 */
export async function benchFreeze(options: {
  runs: number
  sizes?: number[]
}): Promise<BenchResult[]> {
  const results: BenchResult[] = []
  const backend = backendFor(SANDBOX_IMAGE)
  const docker = await backend.client()
  for (const size of options.sizes ?? [1_000, 10_000]) {
    const root = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-bench-freeze-'))
    try {
      const mirror = path.join(root, 'mirror')
      const theirs = path.join(root, 'theirs')
      const files = await createTree(mirror, size)
      await chmod(mirror, 0o777)
      await execa('cp', ['-a', mirror, theirs])
      await execa('git', ['init', '-q', theirs])
      await cliCommit(theirs)
      const repo = await initAuditRepo({ gitdir: path.join(root, 'audit.git'), workDir: mirror })
      await snapshot(repo, { message: 'snapshot' })
      const sandbox = await backend.create({
        sessionId: createId('bench'),
        mirrorDir: mirror,
        projectPath: mirror,
      })
      const container = docker.getContainer(sandbox.id)
      const frozen: number[] = []
      const thawed: number[] = []
      const cli: number[] = []
      const pauses: number[] = []
      const cliPauses: number[] = []
      try {
        for (let run = 0; run < options.runs * 2; run++) {
          const rel = files[(run * 997) % files.length] as string
          const change = async (): Promise<void> => {
            await sandbox.exec({ command: ['sh', '-c', `echo ${run} >> "$1"`, 'sh', rel] })
          }
          const commit = () => commitChanges(repo, { message: `bash ${run}`, scan: true })
          await change()
          if (run % 2 === 0) frozen.push(await time(() => sandbox.whileFrozen(commit)))
          else thawed.push(await time(commit))
          await writeFile(path.join(theirs, rel), `${run}\n`, { flag: 'a' })
          cli.push(await time(() => cliCommit(theirs)))
          if (size === (options.sizes ?? [1_000])[0]) {
            pauses.push(
              await time(async () => {
                await container.pause()
                await container.unpause()
              }),
            )
            cliPauses.push(
              await time(async () => {
                await execa('docker', ['pause', sandbox.id])
                await execa('docker', ['unpause', sandbox.id])
              }),
            )
          }
        }
      } finally {
        await sandbox.dispose()
      }
      const anchor = 'git add -A && git commit (CLI)'
      results.push(
        result(
          `commit after a command, sandbox frozen, ${size} files`,
          anchor,
          median(frozen),
          median(cli),
          1.0,
        ),
        result(
          `commit after a command, not frozen (before), ${size} files`,
          anchor,
          median(thawed),
          median(cli),
          1.0,
        ),
        result(
          `commit frozen vs not frozen, ${size} files`,
          'the same commit not frozen',
          median(frozen),
          median(thawed),
          Infinity,
        ),
      )
      if (pauses.length > 0) {
        results.push(
          result(
            'pause + unpause through the Engine API',
            '`docker pause` + `docker unpause` CLI',
            median(pauses),
            median(cliPauses),
            Infinity,
          ),
        )
      }
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  }
  return results
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.env.BENCH_RUNS ?? 15)
  const sizes = process.env.BENCH_SIZES?.split(',').map(Number)
  console.log(formatResults(await benchFreeze(sizes === undefined ? { runs } : { runs, sizes })))
}
