import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { defaultGuestImageCacheDir } from '../../src/sandbox/microvm/image/index.js'
import { isolatedEnv, runBuilt, sampleProject } from '../helpers/built-cli.js'
import { requireGuestImage } from '../helpers/microvm.js'

/**
 * The CLI on the QEMU microvm backend (TCG on this host): `exec`, a scripted agent session with
 * its audit history, sync-back, and auto-detection that never picks software emulation.
 */
async function vmEnv(): Promise<{ env: Record<string, string>; config: string }> {
  const env = await isolatedEnv()
  const config = path.join(env.HOME ?? '', 'vm.toml')
  await writeFile(
    config,
    `[vm]\naccel = "tcg"\nmem_size_mib = 1024\nimage_dir = ${JSON.stringify(defaultGuestImageCacheDir())}\n`,
  )
  return { env, config }
}

describe('safe-coder on the qemu microvm backend', () => {
  it('exec runs in its own kernel, records the change, warns about TCG, and sync applies it', async () => {
    await requireGuestImage()
    const { env, config } = await vmEnv()
    const project = await sampleProject()
    const exec = await runBuilt(
      [
        'exec',
        '--config',
        config,
        '--backend',
        'qemu',
        '-p',
        project,
        '--',
        'sh',
        '-c',
        'uname -r; ls /sys/class/net; echo from-the-vm > made.txt',
      ],
      { env },
    )
    expect(exec.exitCode, String(exec.stderr)).toBe(0)
    expect(String(exec.stdout)).toMatch(/^\d+\.\d+\.\d+-\S+\nlo$/)
    expect(String(exec.stderr)).toMatch(/WARNING: QEMU microvm runs under TCG software emulation/)
    expect(String(exec.stderr)).toMatch(/1 changed file recorded/)
    const id = /session (s-[a-z0-9]+-[0-9a-f]+)/.exec(String(exec.stderr))?.[1] ?? ''
    await expect(readFile(path.join(project, 'made.txt'), 'utf8')).rejects.toThrow(/ENOENT/)

    const sync = await runBuilt(['sync', id], { env })
    expect(sync.exitCode, String(sync.stderr)).toBe(0)
    expect(await readFile(path.join(project, 'made.txt'), 'utf8')).toBe('from-the-vm\n')
  })

  it('run --demo: one commit per tool call from inside the VM, the project untouched until sync', async () => {
    await requireGuestImage()
    const { env, config } = await vmEnv()
    const project = await sampleProject()
    const run = await runBuilt(
      ['run', '--config', config, '--backend', 'qemu', '--demo', '--json', '-p', project, 'go'],
      { env },
    )
    expect(run.exitCode, String(run.stderr)).toBe(0)
    const summary = JSON.parse(String(run.stdout)) as {
      sessionId: string
      backend: string
      toolCalls: number
      commits: string[]
      changedFiles: { path: string; status: string }[]
    }
    expect(summary).toMatchObject({ backend: 'qemu', toolCalls: 5 })
    expect(summary.commits).toHaveLength(5)
    expect(summary.changedFiles.map((f) => f.path)).toEqual(['SAFE_CODER_DEMO.md', 'hello.txt'])
    const log = await runBuilt(['log', summary.sessionId, '--json'], { env })
    const entries = JSON.parse(String(log.stdout)) as { trailers: Record<string, string> }[]
    expect(
      entries.filter((e) => e.trailers.Tool !== undefined).map((e) => e.trailers.Tool),
    ).toEqual(['write_file', 'bash', 'edit_file', 'read_file', 'list_dir'])
    await expect(readFile(path.join(project, 'SAFE_CODER_DEMO.md'), 'utf8')).rejects.toThrow(
      /ENOENT/,
    )
    const sync = await runBuilt(['sync', summary.sessionId], { env })
    expect(sync.exitCode, String(sync.stderr)).toBe(0)
    expect(await readFile(path.join(project, 'SAFE_CODER_DEMO.md'), 'utf8')).toMatch(/Safe Coder/)
  })

  it('auto-detection never picks TCG: doctor says why and selects docker', async () => {
    await requireGuestImage()
    const { env, config } = await vmEnv()
    // accel "auto": KVM is test-booted (it cannot run a stock kernel here) and TCG is not chosen.
    await writeFile(
      config,
      (await readFile(config, 'utf8')).replace('accel = "tcg"', 'accel = "auto"'),
    )
    const doctor = await runBuilt(['doctor', '--config', config, '--json'], { env })
    const report = JSON.parse(String(doctor.stdout)) as {
      backends: { kind: string; available: boolean; degraded?: string; reason?: string }[]
      selected: string
    }
    const qemu = report.backends.find((p) => p.kind === 'qemu')
    expect(qemu?.degraded ?? qemu?.reason).toMatch(/KVM test boot failed|\/dev\/kvm/)
    expect(report.selected).toBe('docker')
  })
})
