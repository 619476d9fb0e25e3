import { readFile, readdir, readlink } from 'node:fs/promises'
import { execa } from 'execa'
import type { GauntletBackend } from './options.js'

/**
 * What the gauntlet needs to know about a backend from the outside, without Safe Coder's code:
 * what a session left running, and how to kill its sandbox the way an operator (or the OOM
 * killer of the host) would.
 */
export interface BackendProbe {
  /** Sandboxes (containers, networks, VM processes) still present for a session: must be none. */
  leftovers(sessionId: string, env: Record<string, string>): Promise<string[]>
  /** The running sandbox of a session (a container id, a VMM pid), if any. */
  running(sessionId: string, env: Record<string, string>): Promise<string | undefined>
  /** Kills a session's running sandbox from outside Safe Coder. */
  killFromOutside(sessionId: string, env: Record<string, string>): Promise<void>
  /** A label that every sandbox of a project carries, for waiting on one to appear. */
  readonly kind: GauntletBackend
}

function dockerEnv(env: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: env.HOME ?? '/root',
    ...(env.DOCKER_HOST === undefined ? {} : { DOCKER_HOST: env.DOCKER_HOST }),
  }
}

async function docker(args: string[], env: Record<string, string>): Promise<string> {
  const result = await execa('docker', args, {
    env: dockerEnv(env),
    extendEnv: false,
    reject: false,
    timeout: 60_000,
  })
  if (result.exitCode !== 0) {
    throw new Error(`docker ${args.join(' ')} failed (${result.exitCode}): ${result.stderr}`)
  }
  return result.stdout
}

const dockerProbe = (kind: 'docker' | 'podman'): BackendProbe => ({
  kind,
  async leftovers(sessionId, env) {
    const label = `label=safe-coder.session=${sessionId}`
    const containers = (
      await docker(
        ['ps', '-a', '--filter', label, '--format', '{{.ID}} {{.Names}} {{.Status}}'],
        env,
      )
    )
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => `container ${l}`)
    const networks = (
      await docker(['network', 'ls', '--filter', label, '--format', '{{.ID}} {{.Name}}'], env)
    )
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => `network ${l}`)
    return [...containers, ...networks]
  },
  async running(sessionId, env) {
    const out = await docker(
      [
        'ps',
        '--filter',
        `label=safe-coder.session=${sessionId}`,
        '--filter',
        'label=safe-coder.role=sandbox',
        '--format',
        '{{.ID}}',
      ],
      env,
    )
    const id = out.split('\n').find((l) => l.trim() !== '')
    if (id !== undefined) return id.trim()
    // Sandboxes made before roles existed carry no role label.
    const any = await docker(
      [
        'ps',
        '--filter',
        `label=safe-coder.session=${sessionId}`,
        '--format',
        '{{.ID}} {{.Label "safe-coder.role"}}',
      ],
      env,
    )
    return any
      .split('\n')
      .map((l) => l.trim().split(' '))
      .find(
        ([cid, role]) =>
          cid !== undefined &&
          cid !== '' &&
          (role === undefined || role === '' || role === 'sandbox'),
      )?.[0]
  },
  async killFromOutside(sessionId, env) {
    const id = await this.running(sessionId, env)
    if (id === undefined) throw new Error(`no running sandbox for ${sessionId}`)
    await docker(['kill', id], env)
  },
})

/**
 * Host processes of a session's VM: a VMM (or helper) whose command line names the session, or
 * whose working directory (the VM's run folder) holds a vm.json labelled with the session.
 */
async function processesNaming(needle: string): Promise<{ pid: number; cmd: string }[]> {
  const found: { pid: number; cmd: string }[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const pid = Number(entry)
    if (pid === process.pid) continue
    try {
      const cmd = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0').join(' ')
      if (cmd.includes(needle)) {
        found.push({ pid, cmd })
        continue
      }
      if (!/qemu-system|firecracker|virtiofsd/.test(cmd)) continue
      const cwd = await readlink(`/proc/${entry}/cwd`)
      const record = JSON.parse(await readFile(`${cwd}/vm.json`, 'utf8')) as {
        labels?: Record<string, string>
      }
      if (record.labels?.['safe-coder.session'] === needle) found.push({ pid, cmd })
    } catch {
      // gone, not ours to read, or not a VM of Safe Coder
    }
  }
  return found
}

const vmProbe = (kind: 'qemu' | 'firecracker'): BackendProbe => ({
  kind,
  async leftovers(sessionId) {
    return (await processesNaming(sessionId)).map((p) => `process ${p.pid} ${p.cmd.slice(0, 120)}`)
  },
  async running(sessionId) {
    const vmm = (await processesNaming(sessionId)).find((p) =>
      /qemu-system|firecracker/.test(p.cmd),
    )
    return vmm === undefined ? undefined : String(vmm.pid)
  },
  async killFromOutside(sessionId) {
    const pid = await this.running(sessionId, {})
    if (pid === undefined) throw new Error(`no running VM for ${sessionId}`)
    process.kill(Number(pid), 'SIGKILL')
  },
})

export function backendProbe(kind: GauntletBackend): BackendProbe {
  switch (kind) {
    case 'docker':
    case 'podman':
      return dockerProbe(kind)
    case 'qemu':
    case 'firecracker':
      return vmProbe(kind)
  }
}

/** Host processes whose environment carries `KEY=value` (the CLI processes of one test world). */
export async function processesWithEnv(entry: string): Promise<{ pid: number; cmd: string }[]> {
  const found: { pid: number; cmd: string }[] = []
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const pid = Number(name)
    if (pid === process.pid) continue
    try {
      const environ = (await readFile(`/proc/${name}/environ`, 'utf8')).split('\0')
      if (!environ.includes(entry)) continue
      const cmd = (await readFile(`/proc/${name}/cmdline`, 'utf8')).split('\0').join(' ')
      const stat = await readFile(`/proc/${name}/stat`, 'utf8')
      // A zombie is dead already; its parent (this test, via execa) reaps it.
      if (/\) Z /.test(stat)) continue
      found.push({ pid, cmd })
    } catch {
      // gone meanwhile
    }
  }
  return found
}

/** Polls until `check` returns a value (not undefined), or throws after `ms`. */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  ms = 30_000,
  everyMs = 25,
): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}
