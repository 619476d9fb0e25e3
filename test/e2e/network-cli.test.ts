import { describe, expect, it } from 'vitest'
import { SANDBOX_IMAGE } from '../../src/shared/version.js'
import { isolatedEnv, runBuilt, sampleProject } from '../helpers/built-cli.js'
import { requireDocker } from '../helpers/docker.js'

// The egress proxy runs the host's Node on the Debian sandbox image's userland (busybox cannot).
const env = () => isolatedEnv({ SAFE_CODER_IMAGE: SANDBOX_IMAGE })

describe('network on request, from the built CLI', () => {
  it('denies a host outside the allow-list with the policy text, and `log` shows it', async () => {
    await requireDocker()
    const e = await env()
    const project = await sampleProject()
    const run = await runBuilt(
      [
        'exec',
        '--allow-host',
        'pkgs.example.com',
        '--',
        'sh',
        '-c',
        'curl -s http://other.example/x; echo; curl -s --noproxy "*" -m 3 http://other.example/x; echo direct=$?',
      ],
      { cwd: project, env: e },
    )
    expect(run.exitCode, String(run.stderr)).toBe(0)
    const out = String(run.stdout)
    expect(out).toMatch(/Safe Coder blocked other\.example:80/)
    // Without the proxy there is no way out: the name does not even resolve.
    expect(out).toMatch(/direct=(6|7|28)/)
    const id = /session (s-[a-z0-9]+-[0-9a-f]{8})/.exec(String(run.stderr))?.[1]
    expect(id).toBeDefined()
    const log = await runBuilt(['log', id ?? ''], { env: e })
    expect(String(log.stdout)).toMatch(/net .* DENIED {2}other\.example:80 \(http\)/)
    const sessions = await runBuilt(['sessions'], { env: e })
    expect(String(sessions.stdout)).toMatch(/\[network: allow-list\]/)
  })

  it('says an open network out loud, and refuses a bad --allow-host before starting anything', async () => {
    await requireDocker()
    const e = await env()
    const project = await sampleProject()
    const open = await runBuilt(['exec', '--network', 'open', '--', 'true'], {
      cwd: project,
      env: e,
    })
    expect(open.exitCode, String(open.stderr)).toBe(0)
    expect(String(open.stderr)).toMatch(/WARNING: the sandbox has an OPEN network/)
    const sessions = await runBuilt(['sessions'], { env: e })
    expect(String(sessions.stdout)).toMatch(/\[OPEN NETWORK: unrestricted\]/)

    const bad = await runBuilt(['exec', '--allow-host', 'http://x.example/', '--', 'true'], {
      cwd: project,
      env: e,
    })
    expect(bad.exitCode).toBe(78)
    expect(String(bad.stderr)).toMatch(/http:\/\/x\.example\//)
    const after = await runBuilt(['sessions', '--json'], { env: e })
    expect((JSON.parse(String(after.stdout)) as { sessions: unknown[] }).sessions).toHaveLength(1)
  })
})
