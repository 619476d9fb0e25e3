import { readFile, writeFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { BUSYBOX_IMAGE } from '../../src/sandbox/docker/busybox-image.js'
import { requireDocker, waitForContainer } from '../helpers/docker.js'
import { isolatedEnv, runBuilt, sampleProject } from '../helpers/built-cli.js'
import { execa } from 'execa'
import { binPath } from '../helpers/built-cli.js'

describe('safe-coder CLI against the real daemon', () => {
  it('doctor proves isolation from inside a live sandbox', async () => {
    await requireDocker()
    const env = await isolatedEnv()
    const result = await runBuilt(['doctor'], { env })
    expect(result.stdout).toMatch(/✓ docker\s+Docker Engine/)
    expect(result.stdout).toMatch(/← selected/)
    expect(result.stdout).toMatch(/a canary planted on the host is not visible/)
    expect(result.stdout).toMatch(/Isolation verified\./)
    // As root (CI) the workspace disk holds; the root layer as this engine can bound it.
    expect(result.stdout).toMatch(/Disk limits \(\[docker\] disk_mb = 10240 MiB\):/)
    expect(result.stdout).toMatch(/✓ workspace {5}\/workspace is a 10240 MiB ext4 disk/)
    expect(result.stdout).toMatch(/✓ root {10}the (root is read-only|writable layer is capped)/)
    expect(result.exitCode).toBe(0)
    const json = await runBuilt(['doctor', '--json'], { env })
    const report = JSON.parse(String(json.stdout)) as {
      isolation: { isolated: boolean; interfaces: string[] }
    }
    expect(report.isolation.isolated).toBe(true)
    expect(report.isolation.interfaces).toEqual([])
  })

  it('doctor explains a socket it may not use (as an unprivileged user)', async () => {
    await requireDocker()
    const env = await isolatedEnv({ DOCKER_HOST: 'unix:///var/run/docker.sock' })
    const result = await runBuilt(['doctor', '--backend', 'docker'], {
      env,
      uid: 65534,
      gid: 65534,
    })
    // Exit 1 with a module error here means the checkout is not readable by uid 65534.
    expect(result.exitCode, String(result.stderr)).toBe(69)
    expect(result.stdout).toMatch(/permission denied on \/var\/run\/docker\.sock \(EACCES\)/)
    expect(result.stdout).toMatch(/docker group/)
  })

  it('exec runs in a copy of the project, passes the exit code through and never touches the project', async () => {
    await requireDocker()
    const project = await sampleProject()
    const env = await isolatedEnv({ SAFE_CODER_IMAGE: BUSYBOX_IMAGE })
    const before = await readFile(path.join(project, 'hello.txt'), 'utf8')
    const result = await runBuilt(
      [
        'exec',
        '--',
        'sh',
        '-c',
        'cat hello.txt; ./src/main.sh; echo changed > hello.txt; rm src/main.sh; exit 3',
      ],
      { cwd: project, env },
    )
    expect(result.exitCode).toBe(3)
    expect(result.stdout).toBe('hello from the project\nmain')
    expect(result.stderr).toMatch(/session s-\S+: copied 2 files/)
    expect(result.stderr).toMatch(/2 changed files recorded/)
    expect(await readFile(path.join(project, 'hello.txt'), 'utf8')).toBe(before)
    expect((await readdir(path.join(project, 'src'))).sort()).toEqual(['main.sh'])
    const id = /session (s-[a-z0-9]+-[0-9a-f]+)/.exec(String(result.stderr))?.[1] ?? ''
    const work = path.join(env.XDG_STATE_HOME ?? '', 'safe-coder/sessions', id, 'work')
    expect(await readFile(path.join(work, 'hello.txt'), 'utf8')).toBe('changed\n')
  })

  it('exec --timeout kills a command that never ends with status 124', async () => {
    await requireDocker()
    const project = await sampleProject()
    const env = await isolatedEnv({ SAFE_CODER_IMAGE: BUSYBOX_IMAGE })
    const result = await runBuilt(['exec', '--timeout', '1', '--', 'sleep', '1000'], {
      cwd: project,
      env,
    })
    expect(result.exitCode).toBe(124)
    expect(result.stderr).toMatch(/timed out/)
  })

  it('gc reaps the sandbox of a Safe Coder process that was killed, and keeps its work', async () => {
    const docker = await requireDocker()
    const project = await sampleProject()
    const env = await isolatedEnv({ SAFE_CODER_IMAGE: BUSYBOX_IMAGE })
    const child = execa(process.execPath, [binPath, 'exec', '--', 'sleep', '1000'], {
      cwd: project,
      env,
      extendEnv: false,
      reject: false,
    })
    const filters = { label: [`safe-coder.path=${project}`] }
    const found = await waitForContainer(docker, `safe-coder.path=${project}`)
    child.kill('SIGKILL')
    await child
    const gc = await runBuilt(['gc'], { env })
    expect(gc.exitCode).toBe(0)
    expect(gc.stdout).toMatch(new RegExp(`removed docker sandbox ${found.slice(0, 12)}`))
    expect(await docker.listContainers({ all: true, filters })).toEqual([])
    const sessions = path.join(env.XDG_STATE_HOME ?? '', 'safe-coder/sessions')
    const [session] = await readdir(sessions)
    expect(await readFile(path.join(sessions, session ?? '', 'work/hello.txt'), 'utf8')).toBe(
      'hello from the project\n',
    )
  })

  it('refuses bad input with a clear message and the right status', async () => {
    const env = await isolatedEnv()
    const noCommand = await runBuilt(['exec'], { env })
    expect(noCommand.exitCode).toBe(64)
    expect(noCommand.stderr).toMatch(/missing required argument 'command'/)
    const badTimeout = await runBuilt(['exec', '--timeout', 'soon', '--', 'true'], { env })
    expect(badTimeout.exitCode).toBe(64)
    expect(badTimeout.stderr).toMatch(/--timeout must be a positive number/)
    const unknown = await runBuilt(['frobnicate'], { env })
    expect(unknown.exitCode).toBe(64)
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/)
    const project = await sampleProject()
    await writeFile(path.join(project, '.safecoderrc.toml'), '[docker]\nmemory_mb = 10\n')
    const badConfig = await runBuilt(['exec', '--', 'true'], { cwd: project, env })
    expect(badConfig.exitCode).toBe(78)
    expect(badConfig.stderr).toMatch(/\.safecoderrc\.toml: \[docker\] memory_mb must be/)
    expect(badConfig.stderr).toMatch(/found 10/)
    const badBackend = await runBuilt(['doctor', '--backend', 'kvm'], { env })
    expect(badBackend.exitCode).toBe(64)
  })
})
