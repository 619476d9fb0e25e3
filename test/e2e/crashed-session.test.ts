import { access, readFile } from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { BUSYBOX_IMAGE } from '../../src/sandbox/docker/busybox-image.js'
import { binPath, isolatedEnv, runBuilt, sampleProject } from '../helpers/built-cli.js'
import { requireDocker, waitForContainer } from '../helpers/docker.js'

/**
 * A Safe Coder process killed while its sandbox ran leaves that sandbox running on the session's
 * mirror. `revert` and `discard` work on that mirror; they must remove it first.
 */
describe('a session whose Safe Coder process was killed mid-command', () => {
  it('is reverted and discarded only after the sandbox it left is removed', async () => {
    const docker = await requireDocker()
    const project = await sampleProject()
    const env = await isolatedEnv({ SAFE_CODER_IMAGE: BUSYBOX_IMAGE })
    const first = await runBuilt(['exec', '--', 'sh', '-c', 'echo changed > hello.txt'], {
      cwd: project,
      env,
    })
    expect(first.exitCode, String(first.stderr)).toBe(0)
    const id = /session (s-[a-z0-9]+-[0-9a-f]+)/.exec(String(first.stderr))?.[1] ?? ''
    const work = path.join(env.XDG_STATE_HOME ?? '', 'safe-coder/sessions', id, 'work')
    const log = async () =>
      JSON.parse(String((await runBuilt(['log', id, '--json'], { env })).stdout)) as {
        oid: string
        subject: string
      }[]
    const changed = (await log())[0]?.oid ?? ''
    const label = `safe-coder.session=${id}`

    /** An exec killed with SIGKILL once its command has written into the mirror. */
    const crash = async (): Promise<void> => {
      const long = execa(
        process.execPath,
        [binPath, 'exec', '--session', id, '--', 'sh', '-c', 'echo left > left.txt; sleep 1000'],
        { cwd: project, env, extendEnv: false, reject: false },
      )
      await waitForContainer(docker, label)
      for (let i = 0; i < 200; i++) {
        if (
          await access(path.join(work, 'left.txt')).then(
            () => true,
            () => false,
          )
        )
          break
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      long.kill('SIGKILL')
      await long
      expect(await docker.listContainers({ filters: { label: [label] } })).toHaveLength(1)
    }

    await crash()
    const revert = await runBuilt(['revert', id, changed], { cwd: project, env })
    expect(revert.exitCode, String(revert.stderr)).toBe(0)
    expect(await docker.listContainers({ all: true, filters: { label: [label] } })).toEqual([])
    expect((await log()).map((c) => c.subject.split(':')[0])).toEqual([
      expect.stringMatching(/^Revert "exec/) as unknown,
      'recovered',
      'exec',
      'snapshot',
    ])
    expect(await readFile(path.join(work, 'hello.txt'), 'utf8')).toBe('hello from the project\n')

    await crash()
    const discard = await runBuilt(['discard', id, '--yes'], { cwd: project, env })
    expect(discard.exitCode, String(discard.stderr)).toBe(0)
    expect(await docker.listContainers({ all: true, filters: { label: [label] } })).toEqual([])
    await expect(access(work)).rejects.toThrow()
  })
})
