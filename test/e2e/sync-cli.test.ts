import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { BUSYBOX_IMAGE } from '../../src/sandbox/docker/busybox-image.js'
import { projectsDir } from '../../src/session/paths.js'
import { stateDir } from '../../src/shared/state-dir.js'
import { lockSyncProject } from '../../src/workspace/sync.js'
import { isolatedEnv, runBuilt, sampleProject } from '../helpers/built-cli.js'
import { requireDocker } from '../helpers/docker.js'

const lines = (third: string) => `one\ntwo\n${third}\nfour\nfive\n`

/** A session (busybox sandbox) that ran `script` in a copy of a small project. */
async function sessionOf(script: string) {
  await requireDocker()
  const project = await sampleProject()
  await writeFile(path.join(project, 'notes.txt'), lines('three'))
  const env = await isolatedEnv({ SAFE_CODER_IMAGE: BUSYBOX_IMAGE })
  const made = await runBuilt(['exec', '--', 'sh', '-c', script], { cwd: project, env })
  expect(made.exitCode, String(made.stderr)).toBe(0)
  const id = /session (s-[a-z0-9]+-[0-9a-f]+)/.exec(String(made.stderr))?.[1] ?? ''
  return { project, env, id }
}

describe('sync through the CLI', () => {
  it('exits 65 when --merge leaves conflict markers, naming the file', async () => {
    const { project, env, id } = await sessionOf(`printf '${lines('3 session')}' > notes.txt`)
    await writeFile(path.join(project, 'notes.txt'), lines('3 host'))
    const merged = await runBuilt(['sync', id, '--merge'], { env })
    expect(merged.exitCode, String(merged.stdout)).toBe(65)
    expect(merged.stdout).toMatch(/conflict markers written in notes\.txt/)
    expect(await readFile(path.join(project, 'notes.txt'), 'utf8')).toMatch(/<<<<<<< host/)
    // Undo is offered and works: the host's version is back.
    expect(merged.stdout).toMatch(/undo with: safe-coder sync --undo/)
    const undone = await runBuilt(['sync', '--undo', id], { env })
    expect(undone.exitCode, String(undone.stderr)).toBe(0)
    expect(await readFile(path.join(project, 'notes.txt'), 'utf8')).toBe(lines('3 host'))
  })

  it('waits for, or with --wait 0 refuses, a sync another process holds on the project', async () => {
    const { project, env, id } = await sessionOf('echo changed > hello.txt')
    const lock = await lockSyncProject({
      root: projectsDir(stateDir(env)),
      projectDir: project,
      holder: 'session s-other (sync)',
      waitMs: 0,
    })
    const refused = await runBuilt(['sync', id, '--wait', '0'], { env })
    expect(refused.exitCode).toBe(65)
    expect(refused.stderr).toMatch(
      new RegExp(
        `is being synced by session s-other \\(sync\\) \\(safe-coder process ${process.pid}`,
      ),
    )
    expect(await readFile(path.join(project, 'hello.txt'), 'utf8')).toBe('hello from the project\n')
    const badWait = await runBuilt(['sync', id, '--wait', 'soon'], { env })
    expect(badWait.exitCode).toBe(64)
    expect(badWait.stderr).toMatch(/--wait must be a number of seconds/)
    // With a wait, it goes ahead once the holder lets go (told when it starts waiting).
    const waiting = runBuilt(['sync', id, '--wait', '120'], { env })
    let told: () => void = () => undefined
    const isWaiting = new Promise<void>((resolve) => (told = resolve))
    let said = ''
    waiting.stderr?.on('data', (chunk: Buffer) => {
      said += chunk.toString()
      if (said.includes('waiting for it')) told()
    })
    await isWaiting
    await lock.release()
    const synced = await waiting
    expect(synced.exitCode, String(synced.stderr)).toBe(0)
    expect(await readFile(path.join(project, 'hello.txt'), 'utf8')).toBe('changed\n')
  })
})
