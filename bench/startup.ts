import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { execa } from 'execa'
import { SANDBOX_IMAGE } from '../src/shared/version.js'
import { formatResults, result, timeProcesses, type BenchResult } from './lib.js'

const bin = fileURLToPath(new URL('../bin/safe-coder', import.meta.url))

/**
 * A store of `count` sessions: one recorded for real (`exec -p` on a one-file project), the rest
 * copies of its record and history under new ids (`sessions` reads exactly those two).
 */
async function sessionStore(
  root: string,
  count: number,
): Promise<{ env: NodeJS.ProcessEnv; id: string; project: string }> {
  const env = {
    ...process.env,
    XDG_STATE_HOME: path.join(root, 'state'),
    XDG_CONFIG_HOME: path.join(root, 'config'),
  }
  const project = path.join(root, 'project')
  await mkdir(project, { recursive: true })
  await writeFile(path.join(project, 'a.txt'), 'hello\n')
  const first = await execa(
    bin,
    ['exec', '-b', 'docker', '-p', project, '--', 'sh', '-c', 'echo x >> a.txt'],
    { env },
  )
  const id = /session (s-[a-z0-9-]+)/.exec(first.stderr)?.[1]
  if (id === undefined) throw new Error(`no session id in: ${first.stderr}`)
  const sessions = path.join(env.XDG_STATE_HOME, 'safe-coder', 'sessions')
  const record = await readFile(path.join(sessions, id, 'session.json'), 'utf8')
  for (let i = 1; i < count; i++) {
    const copy = `${id.slice(0, 11)}${(0x10000000 + i).toString(16)}`
    await mkdir(path.join(sessions, copy))
    await cp(path.join(sessions, id, 'audit.git'), path.join(sessions, copy, 'audit.git'), {
      recursive: true,
    })
    await writeFile(path.join(sessions, copy, 'session.json'), record.replaceAll(id, copy))
  }
  if ((await readdir(sessions)).length !== count) throw new Error('the store was not made')
  return { env, id, project }
}

// Every command a user types pays for start-up: a CLI must feel like git and docker.
export async function benchStartup(options: { runs: number }): Promise<BenchResult[]> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'safe-coder-bench-startup-'))
  const container = `safe-coder-bench-startup-${process.pid}`
  try {
    const { env, id, project } = await sessionStore(root, 100)
    await execa('docker', [
      'run',
      '-d',
      '--name',
      container,
      '--network',
      'none',
      SANDBOX_IMAGE,
      'sleep',
      '600',
    ])
    const listed = await execa(bin, ['sessions', '--json'], { env })
    const rows = (JSON.parse(listed.stdout) as { sessions: unknown[] }).sessions
    if (rows.length !== 100) throw new Error(`sessions listed ${rows.length} of 100`)
    const startup = await timeProcesses(
      {
        node: () => execa(process.execPath, ['-e', '0']),
        version: () => execa(bin, ['--version'], { env }),
        sessions: () => execa(bin, ['sessions'], { env }),
      },
      options.runs,
    )
    const exec = await timeProcesses(
      {
        existing: () => execa(bin, ['exec', '-q', '-s', id, '--', 'true'], { env }),
        dockerExec: () => execa('docker', ['exec', container, 'true']),
        fresh: () =>
          execa(bin, ['exec', '-q', '-b', 'docker', '-p', project, '--', 'true'], { env }),
        dockerRun: () =>
          execa('docker', ['run', '--rm', '--network', 'none', SANDBOX_IMAGE, 'true']),
      },
      Math.max(3, Math.round(options.runs / 3)),
    )
    const node = 'node -e 0'
    return [
      result(
        'safe-coder --version, whole process median',
        node,
        startup.version ?? 0,
        startup.node ?? 0,
        1.5,
      ),
      result(
        'safe-coder sessions, 100 sessions, whole process median',
        node,
        startup.sessions ?? 0,
        startup.node ?? 0,
        3,
      ),
      result(
        'safe-coder exec -s ID -- true, whole process median',
        'docker exec CTR true',
        exec.existing ?? 0,
        exec.dockerExec ?? 0,
        1,
      ),
      result(
        'safe-coder exec -p DIR -- true (new session, 1 file), median',
        'docker run --rm --network none IMAGE true',
        exec.fresh ?? 0,
        exec.dockerRun ?? 0,
        1,
      ),
    ]
  } finally {
    await execa('docker', ['rm', '-f', container], { reject: false })
    // The sessions' folders may hold mounted disks: discard them through the CLI first.
    const env = {
      ...process.env,
      XDG_STATE_HOME: path.join(root, 'state'),
      XDG_CONFIG_HOME: path.join(root, 'config'),
    }
    const listed = await execa(bin, ['sessions', '--json'], { env, reject: false })
    const ids =
      listed.exitCode === 0
        ? (JSON.parse(listed.stdout) as { sessions: { id: string }[] }).sessions.map((s) => s.id)
        : []
    if (ids.length > 0) await execa(bin, ['discard', ...ids, '--yes'], { env, reject: false })
    await rm(root, { recursive: true, force: true })
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatResults(await benchStartup({ runs: Number(process.env.BENCH_RUNS ?? 21) })))
}
