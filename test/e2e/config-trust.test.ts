import { existsSync } from 'node:fs'
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { BUSYBOX_IMAGE } from '../../src/sandbox/docker/busybox-image.js'
import { isolatedEnv, runBuilt } from '../helpers/built-cli.js'
import { requireDocker } from '../helpers/docker.js'
import { tempDir } from '../helpers/sandbox.js'

/**
 * The config trust model through the built CLI: the project search stops at the project, files
 * another user could have planted are refused, JavaScript configs run only when trusted, and a
 * project file may only narrow what the user allows (issue 14, items 4, 5 and 7).
 */

/** A JavaScript config that leaves a marker file when it is executed. */
function markerScript(marker: string): string {
  return `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran')\nmodule.exports = { agent: { max_steps: 7 } }\n`
}

async function userFile(env: Record<string, string>, text: string): Promise<string> {
  const file = path.join(env.XDG_CONFIG_HOME ?? '', 'safe-coder', 'config.toml')
  await mkdir(path.dirname(file), { recursive: true })
  await writeFile(file, text)
  return file
}

describe('config files another user could have planted', () => {
  it('never runs a safecoder.config.cjs in a world-writable parent of a non-git project', async () => {
    const root = await tempDir('sc-planted-')
    await chmod(root, 0o777)
    const marker = path.join(root, 'marker')
    await writeFile(path.join(root, 'safecoder.config.cjs'), markerScript(marker))
    const project = path.join(root, 'project')
    await mkdir(project)
    await writeFile(path.join(project, 'hello.txt'), 'hi\n')
    const env = await isolatedEnv()
    const result = await runBuilt(['config', 'show', '--json'], { cwd: project, env })
    expect(existsSync(marker), 'the planted config ran').toBe(false)
    expect(result.exitCode, String(result.stderr)).toBe(0)
    expect((JSON.parse(String(result.stdout)) as { files: string[] }).files).toEqual([])
  })

  it('refuses a project file owned by another user, naming it and how to trust it', async () => {
    const project = await tempDir('sc-foreign-')
    const file = path.join(project, '.safecoderrc.toml')
    await writeFile(file, '[agent]\nmax_steps = 5\n')
    // The test runs as root (CI does): hand the file to nobody.
    await chown(file, 65534, 65534)
    const env = await isolatedEnv()
    const result = await runBuilt(['config', 'show'], { cwd: project, env })
    expect(result.exitCode).toBe(78)
    expect(result.stderr).toContain(file)
    expect(result.stderr).toMatch(/owned by uid 65534/)
    expect(result.stderr).toContain('safe-coder trust')
  })

  it('refuses a project file in a world-writable project directory', async () => {
    const project = await tempDir('sc-writable-')
    await chmod(project, 0o777)
    const file = path.join(project, '.safecoderrc.toml')
    await writeFile(file, '[agent]\nmax_steps = 5\n')
    const env = await isolatedEnv()
    const result = await runBuilt(['config', 'show'], { cwd: project, env })
    expect(result.exitCode).toBe(78)
    expect(result.stderr).toContain(file)
    expect(result.stderr).toMatch(/writable by other users/)
  })

  it('runs a JavaScript project config only after `safe-coder trust`, and again after a change', async () => {
    const project = await tempDir('sc-js-')
    const marker = path.join(await tempDir('sc-js-marker-'), 'marker')
    const file = path.join(project, 'safecoder.config.cjs')
    await writeFile(file, markerScript(marker))
    const env = await isolatedEnv()
    const refused = await runBuilt(['config', 'show'], { cwd: project, env })
    expect(existsSync(marker), 'the untrusted config ran').toBe(false)
    expect(refused.exitCode).toBe(78)
    expect(refused.stderr).toContain(file)
    expect(refused.stderr).toMatch(/JavaScript/)
    expect(refused.stderr).toContain(`safe-coder trust`)

    const trusted = await runBuilt(['trust', project], { cwd: project, env })
    expect(trusted.exitCode, String(trusted.stderr)).toBe(0)
    expect(existsSync(marker), 'trust itself ran the config').toBe(false)
    const shown = await runBuilt(['config', 'show', '--json'], { cwd: project, env })
    expect(shown.exitCode, String(shown.stderr)).toBe(0)
    expect(existsSync(marker)).toBe(true)
    const loaded = JSON.parse(String(shown.stdout)) as { config: { agent: { max_steps: number } } }
    expect(loaded.config.agent.max_steps).toBe(7)

    await writeFile(file, `${markerScript(`${marker}-2`)}// changed\n`)
    const changed = await runBuilt(['config', 'show'], { cwd: project, env })
    expect(changed.exitCode).toBe(78)
    expect(changed.stderr).toMatch(/changed since you trusted it/)
    expect(existsSync(`${marker}-2`)).toBe(false)
  })
})

describe('a project file may only narrow what the user allows', () => {
  it('refuses what widens it, naming every key and the user file', async () => {
    const project = await tempDir('sc-widen-')
    const file = path.join(project, '.safecoderrc.toml')
    // One of each: a higher limit, a backend, a guest kernel, image keys, auto_pull, approval.
    await writeFile(
      file,
      '[isolation]\nbackend = "docker"\n[docker]\nmemory_mb = 4096\nauto_pull = true\n[vm]\nkernel_image = "/tmp/vmlinux"\n[image]\npackages = ["netcat-openbsd"]\nmirror = "http://mirror.example/debian"\n[agent]\napproval = "auto"\n',
    )
    const env = await isolatedEnv()
    const user = await userFile(env, '[docker]\nmemory_mb = 1024\n[agent]\napproval = "ask"\n')
    const result = await runBuilt(['config', 'show'], { cwd: project, env })
    expect(result.exitCode, String(result.stderr)).toBe(78)
    expect(result.stderr).toContain(file)
    for (const key of [
      '[isolation] backend may not be set in a project file',
      `[docker] memory_mb = 4096 is above 1024, the value in ${user}`,
      '[docker] auto_pull = true is looser than false',
      '[vm] kernel_image may not be set',
      '[image] packages may not be set',
      '[image] mirror may not be set',
      `[agent] approval = "auto" is looser than "ask", the value in ${user}`,
    ])
      expect(result.stderr).toContain(key)
    expect(result.stderr).toContain(`hint: Set them in your user file ${user}`)
    expect(result.stderr).toContain(`safe-coder trust ${project}`)
  })

  it('accepts narrowing: lower limits, stricter approval, more excludes', async () => {
    const project = await tempDir('sc-narrow-')
    await writeFile(
      path.join(project, '.safecoderrc.toml'),
      '[docker]\nmemory_mb = 512\npids_limit = 64\nread_only_root = true\n[agent]\napproval = "deny"\n[workspace]\nexclude = ["secrets/"]\n',
    )
    const env = await isolatedEnv()
    await userFile(env, '[docker]\nmemory_mb = 1024\n[workspace]\nexclude = ["*.key"]\n')
    const result = await runBuilt(['config', 'show', '--json'], { cwd: project, env })
    expect(result.exitCode, String(result.stderr)).toBe(0)
    const { config } = JSON.parse(String(result.stdout)) as {
      config: {
        docker: { memory_mb: number; pids_limit: number; read_only_root: boolean }
        agent: { approval: string }
        workspace: { exclude: string[] }
      }
    }
    expect(config.docker).toMatchObject({ memory_mb: 512, pids_limit: 64, read_only_root: true })
    expect(config.agent.approval).toBe('deny')
    // A project adds excludes to the user's; it cannot drop them.
    expect(config.workspace.exclude).toEqual(['*.key', 'secrets/'])
  })

  it('applies a trusted project file that widens, and says so loudly', async () => {
    const project = await tempDir('sc-trusted-')
    const file = path.join(project, '.safecoderrc.toml')
    await writeFile(file, '[docker]\nmemory_mb = 1536\n')
    const env = await isolatedEnv()
    await userFile(env, '[docker]\nmemory_mb = 1024\n')
    expect((await runBuilt(['config', 'show'], { cwd: project, env })).exitCode).toBe(78)
    const trusted = await runBuilt(['trust'], { cwd: project, env })
    expect(trusted.exitCode, String(trusted.stderr)).toBe(0)
    expect(trusted.stdout).toContain(file)
    const list = await runBuilt(['trust', '--list'], { cwd: project, env })
    expect(list.stdout).toContain(file)
    const shown = await runBuilt(['config', 'show', '--json'], { cwd: project, env })
    expect(shown.exitCode, String(shown.stderr)).toBe(0)
    expect(shown.stderr).toMatch(/WARNING: .*trusted.*\[docker\] memory_mb = 1536/)
    const revoked = await runBuilt(['trust', '--revoke'], { cwd: project, env })
    expect(revoked.exitCode, String(revoked.stderr)).toBe(0)
    expect((await runBuilt(['config', 'show'], { cwd: project, env })).exitCode).toBe(78)
  })
})

describe('configuration follows the project', () => {
  it('exec -p DIR from another directory honours DIR’s excludes', async () => {
    await requireDocker()
    const project = await tempDir('sc-follow-')
    await writeFile(path.join(project, 'hello.txt'), 'hello\n')
    await writeFile(path.join(project, 'secret.env'), 'TOKEN=hunter2\n')
    await writeFile(path.join(project, '.safecoderrc.toml'), '[workspace]\nexclude = ["*.env"]\n')
    const elsewhere = await tempDir('sc-elsewhere-')
    const env = await isolatedEnv({ SAFE_CODER_IMAGE: BUSYBOX_IMAGE })
    const result = await runBuilt(['exec', '-p', project, '--', 'sh', '-c', 'ls; cat secret.env'], {
      cwd: elsewhere,
      env,
    })
    expect(result.stdout).toContain('hello.txt')
    expect(result.stdout).not.toContain('hunter2')
    expect(result.stdout).not.toContain('secret.env')
    expect(result.exitCode).not.toBe(0)
  })
})
