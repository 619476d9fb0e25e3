import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { BUSYBOX_IMAGE } from '../../src/sandbox/docker/busybox-image.js'
import { SANDBOX_IMAGE } from '../../src/shared/version.js'
import { isolatedEnv, runBuilt, sampleProject } from '../helpers/built-cli.js'
import { requireDocker } from '../helpers/docker.js'
import { spawnBuilt } from '../helpers/pty.js'

const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex')

/** The session's mirror file `rel`, from the session id `exec` printed. */
async function mirrorFile(env: Record<string, string>, stderr: string, rel: string) {
  const id = /session (s-[a-z0-9]+-[0-9a-f]+)/.exec(stderr)?.[1] ?? 'no session id printed'
  const work = path.join(env.XDG_STATE_HOME ?? '', 'safe-coder', 'sessions', id, 'work')
  return { id, bytes: await readFile(path.join(work, rel)) }
}

describe('safe-coder exec with piped stdin', () => {
  // Engine-API exec (busybox has no agent) and the in-container agent's stdin frames.
  for (const image of [BUSYBOX_IMAGE, SANDBOX_IMAGE]) {
    it(`forwards it to the command and records what the command made of it (${image})`, async () => {
      await requireDocker()
      const project = await sampleProject()
      const env = await isolatedEnv({ SAFE_CODER_IMAGE: image })

      const small = await runBuilt(['exec', '--', 'sh', '-c', 'cat > f'], {
        cwd: project,
        env,
        input: 'x\n',
      })
      expect(small.exitCode, String(small.stderr)).toBe(0)
      expect(small.stderr).toMatch(/1 changed file recorded/)
      const { id, bytes } = await mirrorFile(env, String(small.stderr), 'f')
      expect(bytes.toString()).toBe('x\n')

      // Several frames and agent windows' worth, streamed through; the end of input is an EOF.
      const input = randomBytes(6 * 1024 * 1024)
      const large = await runBuilt(
        ['exec', '--session', id, '--', 'sh', '-c', 'cat > big; sha256sum < big'],
        { cwd: project, env, input },
      )
      expect(large.exitCode, String(large.stderr)).toBe(0)
      expect(String(large.stdout).split(' ')[0]).toBe(sha(input))
      expect(sha((await mirrorFile(env, String(large.stderr), 'big')).bytes)).toBe(sha(input))
      const log = await runBuilt(['log', id, '-n', '1', '--json'], { env })
      const [last] = JSON.parse(String(log.stdout)) as { files: { path: string }[] }[]
      expect(last?.files.map((f) => f.path)).toEqual(['big'])
    })
  }

  it('does not forward a terminal: the command reads an empty stdin', async () => {
    await requireDocker()
    const project = await sampleProject()
    const env = await isolatedEnv({ SAFE_CODER_IMAGE: BUSYBOX_IMAGE })
    const run = spawnBuilt(['exec', '-q', '--', 'sh', '-c', 'wc -c; echo done'], {
      cwd: project,
      env,
    })
    // Were the terminal forwarded, `wc` would wait for keys and this would never exit.
    expect(await run.exited).toBe(0)
    expect(run.screen()).toMatch(/^0\s*\n\s*done/m)
  })
})
