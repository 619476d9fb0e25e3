import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { BUSYBOX_IMAGE } from '../../src/sandbox/docker/busybox-image.js'
import { isolatedEnv, runBuilt, sampleProject } from '../helpers/built-cli.js'
import { requireEngine } from '../helpers/docker.js'

const PODMAN = 'unix:///run/podman/podman.sock'

describe('a session runs on the backend and engine it recorded', () => {
  it('exec --session stays on Podman where auto would pick Docker, and never switches', async () => {
    // Both engines answer: auto-detection alone would take Docker.
    await requireEngine('docker')
    await requireEngine('podman')
    const project = await sampleProject()
    const env = await isolatedEnv({ SAFE_CODER_IMAGE: BUSYBOX_IMAGE })
    const run = (args: string[]) => runBuilt(args, { cwd: project, env })

    const first = await run(['exec', '--backend', 'podman', '--', 'sh', '-c', 'echo 1 > one.txt'])
    expect(first.exitCode, String(first.stderr)).toBe(0)
    expect(String(first.stderr)).toMatch(/exit 0 after .* in podman sandbox/)
    const id = /session (s-[a-z0-9]+-[0-9a-f]+)/.exec(String(first.stderr))?.[1] ?? ''
    const second = await run(['exec', '--session', id, '--', 'sh', '-c', 'echo 2 > two.txt'])
    expect(second.exitCode, String(second.stderr)).toBe(0)
    expect(String(second.stderr)).toMatch(/exit 0 after .* in podman sandbox/)

    const file = path.join(env.XDG_STATE_HOME ?? '', 'safe-coder/sessions', id, 'session.json')
    const record = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
    expect([record.backend, record.engine]).toEqual(['podman', PODMAN])

    const moved = await run(['exec', '--session', id, '--backend', 'docker', '--', 'true'])
    expect(moved.exitCode).toBe(64)
    expect(String(moved.stderr)).toContain(
      `Session ${id} runs on podman at ${PODMAN}; --backend docker cannot move it.`,
    )

    // The recorded engine is gone: a clear error naming it, not Docker instead.
    const latest = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
    await writeFile(file, JSON.stringify({ ...latest, engine: 'unix:///nonexistent/podman.sock' }))
    const gone = await run(['exec', '--session', id, '--', 'true'])
    expect(gone.exitCode).toBe(69)
    expect(String(gone.stderr)).toMatch(
      new RegExp(
        `Session ${id} runs on podman at unix:///nonexistent/podman.sock, which is unavailable`,
      ),
    )
    expect(String(gone.stderr)).toMatch(/never moves to another backend or engine/)
  })
})
