import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MicrovmBackend } from '../../src/sandbox/microvm/backend.js'
import type { Sandbox } from '../../src/sandbox/types.js'
import { isSafeCoderError } from '../../src/shared/errors.js'
import { createId } from '../../src/shared/ids.js'
import { tempDir } from '../helpers/sandbox.js'
import { requireGuestImage, tcgBackend } from '../helpers/microvm.js'

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
    return 'resolved'
  } catch (error) {
    return isSafeCoderError(error) ? error.code : `unexpected: ${String(error)}`
  }
}

/**
 * The QEMU microvm backend on real VMs (TCG here: this host's KVM cannot run a stock kernel).
 * One VM carries the behavioural cases; the fault cases boot their own.
 */
describe('qemu microvm backend (TCG)', () => {
  let backend: MicrovmBackend
  let sandbox: Sandbox
  let mirror: string
  let stateHome: string

  beforeAll(async () => {
    await requireGuestImage()
    stateHome = await mkdtemp(path.join(os.tmpdir(), 'sc-vmstate-'))
    backend = tcgBackend(stateHome)
    mirror = await mkdtemp(path.join(os.tmpdir(), 'sc-vmmirror-'))
    await writeFile(path.join(mirror, 'hello.txt'), 'hello from the host\n')
    await mkdir(path.join(mirror, 'src'))
    await writeFile(path.join(mirror, 'src/main.sh'), '#!/bin/sh\necho main\n')
    await chmod(path.join(mirror, 'src/main.sh'), 0o755)
    sandbox = await backend.create({
      sessionId: createId('test'),
      mirrorDir: mirror,
      projectPath: mirror,
      maxFileBytes: 96 * 1024 * 1024,
    })
  })

  afterAll(async () => {
    await sandbox.dispose()
    await rm(stateHome, { recursive: true, force: true })
    await rm(mirror, { recursive: true, force: true })
  })

  it('probes as available under TCG, flagged as software emulation', async () => {
    const probe = await backend.probe()
    expect(probe.available).toBe(true)
    expect(probe.details.accel).toBe('tcg')
    expect(probe.degraded).toMatch(/not hardware isolation/)
    expect(sandbox.warning).toMatch(/TCG/)
  })

  it('runs commands: exit codes, stderr, env, cwd, and 1 MiB of binary stdin to stdout', async () => {
    const result = await sandbox.exec({
      command: 'cd src && ./main.sh && echo "$GREETING" && echo oops >&2; exit 3',
      env: { GREETING: 'hi' },
    })
    expect(result).toMatchObject({ exitCode: 3, stdout: 'main\nhi\n', stderr: 'oops\n' })
    expect((await sandbox.exec({ command: 'pwd', cwd: 'src' })).stdout).toBe('/workspace/src\n')
    const bytes = Buffer.alloc(1024 * 1024)
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 256
    const echoed = await sandbox.exec({ command: 'cat | base64 -w0', stdin: bytes })
    expect(Buffer.from(echoed.stdout, 'base64').equals(bytes)).toBe(true)
  })

  it('is its own machine: another kernel, no network but lo, host files invisible', async () => {
    const kernel = (await sandbox.exec({ command: 'uname -r' })).stdout.trim()
    expect(kernel).not.toBe(os.release())
    const links = await sandbox.exec({ command: 'ls /sys/class/net' })
    expect(links.stdout.trim().split(/\s+/)).toEqual(['lo'])
    const canary = path.join(os.tmpdir(), `safe-coder-canary-${createId('c')}`)
    await writeFile(canary, 'host secret')
    const seen = await sandbox.exec({ command: `cat ${canary}` })
    expect(seen.stdout).not.toContain('host secret')
    expect(seen.exitCode).not.toBe(0)
  })

  it('does file operations confined to /workspace', async () => {
    await sandbox.writeFile('notes/a.txt', 'written by a tool')
    expect(Buffer.from(await sandbox.readFile('notes/a.txt')).toString()).toBe('written by a tool')
    expect(await sandbox.stat('notes/a.txt')).toMatchObject({ kind: 'file', size: 17 })
    expect((await sandbox.list('notes')).map((e) => e.name)).toEqual(['a.txt'])
    await sandbox.exec({ command: 'ln -s /etc escape' })
    expect(await codeOf(sandbox.readFile('escape/passwd'))).toBe('PATH_REJECTED')
    expect(await codeOf(sandbox.readFile('../etc/passwd'))).toBe('PATH_REJECTED')
    expect(await codeOf(sandbox.readFile('missing'))).toBe('NOT_FOUND')
  })

  it('stops a write at [vm] disk_size_mib with ENOSPC inside, holds no more on the host, recovers', async () => {
    const fill = await sandbox.exec({
      command: 'dd if=/dev/zero of=big bs=1M count=100 2>&1 >/dev/null | grep -v records >&2',
    })
    expect(fill.stderr).toMatch(/No space left on device/)
    const [vm] = await readdir(path.join(stateHome, 'safe-coder/vms'))
    const drive = await lstat(path.join(stateHome, 'safe-coder/vms', vm ?? '', 'workspace.ext4'))
    expect(drive.size).toBe(64 * 1024 * 1024)
    expect(drive.blocks * 512).toBeLessThanOrEqual(64 * 1024 * 1024)
    const write = await sandbox.writeFile('more.bin', Buffer.alloc(8 * 1024 * 1024, 7)).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isSafeCoderError(write, 'DISK_FULL') && write.data?.inSandbox).toBe(true)
    expect(isSafeCoderError(write) && write.message).toMatch(/own 64 MiB ext4 drive/)
    const again = await sandbox.exec({ command: 'rm big && echo fine > after && cat after' })
    expect(again.stdout).toBe('fine\n')
    await sandbox.exec({ command: 'rm after' })
  })

  it('pulls what changed into the host mirror, and nothing through a planted link', async () => {
    await sandbox.exec({
      command: [
        'echo new > made.txt',
        'rm hello.txt',
        'chmod 600 src/main.sh',
        'mkdir -p deep/er && echo x > deep/er/x',
        'ln -sf made.txt link',
        'mkdir -p trap && ln -s /etc trap/etc',
      ].join(' && '),
    })
    const changed = await sandbox.syncOut?.()
    expect(changed).toEqual(
      expect.arrayContaining(['made.txt', 'hello.txt', 'src/main.sh', 'deep/er/x', 'link']),
    )
    expect(await readFile(path.join(mirror, 'made.txt'), 'utf8')).toBe('new\n')
    await expect(lstat(path.join(mirror, 'hello.txt'))).rejects.toThrow(/ENOENT/)
    expect((await lstat(path.join(mirror, 'src/main.sh'))).mode & 0o777).toBe(0o600)
    expect((await lstat(path.join(mirror, 'trap/etc'))).isSymbolicLink()).toBe(true)
    // A second pull with nothing new reports nothing.
    expect(await sandbox.syncOut?.()).toEqual([])
  })

  it("pulls files up to the session's cap and stands in for larger ones, as a container records them", async () => {
    // Both over the agent's old 64 MiB default; sparse in the guest, so they cost no disk.
    await sandbox.exec({
      command:
        'truncate -s 80M mid.bin && printf mid | dd of=mid.bin conv=notrunc 2>/dev/null && truncate -s 200M over.bin && chmod 600 over.bin',
    })
    const changed = await sandbox.syncOut?.()
    expect(changed).toEqual(expect.arrayContaining(['mid.bin', 'over.bin']))
    expect(sandbox.takeSkipped?.()).toEqual([])
    const mid = await lstat(path.join(mirror, 'mid.bin'))
    expect(mid.size).toBe(80 * 1024 * 1024)
    expect(mid.blocks * 512).toBeLessThan(1024 * 1024)
    expect((await readFile(path.join(mirror, 'mid.bin'))).subarray(0, 3).toString()).toBe('mid')
    const over = await lstat(path.join(mirror, 'over.bin'))
    expect([over.size, over.mode & 0o777, over.blocks]).toEqual([200 * 1024 * 1024, 0o600, 0])
    await sandbox.exec({ command: 'rm mid.bin over.bin' })
    await sandbox.syncOut?.()
  })

  it('takes mirror paths the host changed (a revert) into the running guest', async () => {
    await writeFile(path.join(mirror, 'made.txt'), 'reverted on the host\n')
    await rm(path.join(mirror, 'deep'), { recursive: true })
    await sandbox.syncIn?.(['made.txt', 'deep/er/x', 'deep/er', 'deep'])
    const seen = await sandbox.exec({ command: 'cat made.txt; ls deep 2>&1 || true' })
    expect(seen.stdout).toMatch(/^reverted on the host\n.*No such file/s)
    // The echo comes back unchanged: the mirror keeps the reverted content.
    await sandbox.syncOut?.()
    expect(await readFile(path.join(mirror, 'made.txt'), 'utf8')).toBe('reverted on the host\n')
  })

  it('kills a command that never ends at its timeout, with its children', async () => {
    const started = Date.now()
    const result = await sandbox.exec({ command: 'sleep 1000 & sleep 1001', timeoutMs: 2000 })
    expect(result.timedOut).toBe(true)
    expect(Date.now() - started).toBeLessThan(20_000)
    const ps = await sandbox.exec({ command: 'ps -eo args | grep "[s]leep 100" || true' })
    expect(ps.stdout).toBe('')
  })

  it('reports guest resource samples', async () => {
    const controller = new AbortController()
    const samples = []
    for await (const sample of sandbox.stats(controller.signal)) {
      samples.push(sample)
      if (samples.length >= 2) controller.abort()
    }
    expect(samples[1]?.memoryLimitBytes).toBeGreaterThan(0)
    expect(samples[1]?.memoryBytes).toBeGreaterThan(0)
  })
})

describe('qemu microvm faults (TCG)', () => {
  it('a VMM killed mid-exec: SANDBOX_GONE, and the workspace is recovered from its drive', async () => {
    await requireGuestImage()
    const stateHome = await tempDir('sc-vmstate-')
    const backend = tcgBackend(stateHome)
    const mirror = await tempDir('sc-vmmirror-')
    await writeFile(path.join(mirror, 'keep.txt'), 'kept\n')
    const sandbox = await backend.create({
      sessionId: createId('test'),
      mirrorDir: mirror,
      projectPath: mirror,
    })
    try {
      await sandbox.exec({ command: 'echo unsaved > work.txt && sync' })
      const running = sandbox.exec({ command: 'sleep 1000' })
      const [vm] = await backend.list()
      expect(vm?.state).toMatch(/running/)
      const record = JSON.parse(
        await readFile(path.join(stateHome, 'safe-coder/vms', vm?.id ?? '', 'vm.json'), 'utf8'),
      ) as { pid: number }
      process.kill(record.pid, 'SIGKILL')
      expect(await codeOf(running)).toBe('SANDBOX_GONE')
      expect(await codeOf(sandbox.exec({ command: 'true' }))).toBe('SANDBOX_GONE')
    } finally {
      await sandbox.dispose()
    }
    expect(await readFile(path.join(mirror, 'work.txt'), 'utf8')).toBe('unsaved\n')
    expect(await readFile(path.join(mirror, 'keep.txt'), 'utf8')).toBe('kept\n')
    expect(await backend.list()).toEqual([])
  })

  it('a guest that never boots fails within the boot timeout with a clear error', async () => {
    await requireGuestImage()
    const stateHome = await tempDir('sc-vmstate-')
    const backend = tcgBackend(stateHome, { bootTimeoutS: 3 })
    const mirror = await tempDir('sc-vmmirror-')
    const started = Date.now()
    const error = await backend
      .create({ sessionId: createId('test'), mirrorDir: mirror, projectPath: mirror })
      .then(
        async (s) => {
          await s.dispose()
          return undefined
        },
        (e: unknown) => e,
      )
    expect(isSafeCoderError(error, 'SANDBOX_FAILED')).toBe(true)
    expect((error as Error).message).toMatch(/did not come up within 3 s/)
    expect(Date.now() - started).toBeLessThan(15_000)
    expect(await readdir(path.join(stateHome, 'safe-coder/vms')).catch(() => [])).toEqual(
      expect.not.arrayContaining([expect.stringMatching(/^vm-/)]),
    )
  })

  it('refuses network modes it cannot give, before booting', async () => {
    const stateHome = await tempDir('sc-vmstate-')
    const backend = tcgBackend(stateHome)
    const mirror = await tempDir('sc-vmmirror-')
    await symlink('/etc', path.join(mirror, 'etc-link'))
    const error = await backend
      .create({
        sessionId: createId('test'),
        mirrorDir: mirror,
        projectPath: mirror,
        network: {
          policy: { mode: 'open', allow: [], deny: [] },
          policyFile: path.join(mirror, 'policy.json'),
        },
      })
      .catch((e: unknown) => e)
    expect(isSafeCoderError(error, 'BACKEND_UNAVAILABLE')).toBe(true)
  })
})
