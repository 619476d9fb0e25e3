import { writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { BUSYBOX_IMAGE } from '../../src/sandbox/docker/busybox-image.js'
import { isolatedEnv, runBuilt, sampleProject } from '../helpers/built-cli.js'
import { requireDocker } from '../helpers/docker.js'

interface ExecJson {
  version: number
  session: string
  commit: string | null
  exitCode: number | null
  changed: string[]
  durationMs: number
}

describe('one CLI grammar: exec after --, exec --json, discard several', () => {
  // One project and two sessions (one with work, one empty) serve every case.
  it('runs exec --json and discards by ids and filters, one failure not stopping the rest', async () => {
    await requireDocker()
    const project = await sampleProject()
    const env = await isolatedEnv({ SAFE_CODER_IMAGE: BUSYBOX_IMAGE })
    const cli = (args: string[]) => runBuilt(args, { cwd: project, env })

    const bare = await cli(['exec', 'ls', '-la'])
    expect(bare.exitCode).toBe(64)
    expect(bare.stdout).toBe('')
    expect(bare.stderr).toContain('put the command after `--`: safe-coder exec -- ls -la')

    // The command's stdout goes to stderr: stdout is the JSON object alone.
    const worked = await cli(['exec', '--json', '--', 'sh', '-c', 'echo made; echo x > new.txt'])
    expect(worked.exitCode, String(worked.stderr)).toBe(0)
    const a = JSON.parse(String(worked.stdout)) as ExecJson
    expect(a).toEqual({
      version: 1,
      session: expect.stringMatching(/^s-/) as unknown,
      commit: expect.stringMatching(/^[0-9a-f]{40}$/) as unknown,
      exitCode: 0,
      timedOut: false,
      changed: ['new.txt'],
      durationMs: expect.any(Number) as unknown,
    })
    expect(worked.stderr).toContain('made')
    expect(worked.stderr).toContain(`session ${a.session}`)

    const nothing = await cli(['exec', '--json', '--project', project, '-q', '--', 'true'])
    expect(nothing.exitCode, String(nothing.stderr)).toBe(0)
    const b = JSON.parse(String(nothing.stdout)) as ExecJson
    expect(b).toMatchObject({ commit: null, exitCode: 0, changed: [] })

    const listed = JSON.parse(String((await cli(['sessions', '--json'])).stdout)) as {
      version: number
    }
    expect(listed.version).toBe(1)

    const badAge = await cli(['discard', '--older-than', '7x'])
    expect(badAge.exitCode).toBe(64)
    expect(badAge.stderr).toMatch(/--older-than .*7d/)

    const dry = await cli(['discard', '--empty', '--dry-run'])
    expect(dry.exitCode, String(dry.stderr)).toBe(0)
    expect(String(dry.stdout).trim().split('\n')).toEqual([
      expect.stringContaining(`would discard session ${b.session}`),
    ])

    // A session another live process holds is refused as a single discard refuses it.
    const lock = path.join(env.XDG_STATE_HOME ?? '', 'safe-coder/sessions', a.session, 'lock')
    await writeFile(lock, JSON.stringify({ pid: process.pid, host: os.hostname() }))
    const missing = 's-aaaaaaaa-00000000'
    const many = await cli(['discard', a.session, missing, b.session, '--yes'])
    expect(many.exitCode).toBe(66)
    expect(many.stdout).toBe(`discarded session ${b.session}`)
    expect(many.stderr).toMatch(new RegExp(`cannot discard ${missing}: .*`))
    expect(many.stderr).toMatch(new RegExp(`cannot discard ${a.session}: Session .* is busy`))
    expect(many.stderr).toContain('discarded 1 session; 2 failed')

    const kept = await cli(['discard', a.session, '--synced', '--yes'])
    expect(kept.exitCode).toBe(0)
    expect(kept.stderr).toContain(`kept ${a.session}: it does not match --synced`)
  })
})
