import { lstat, mkdir, readFile, readdir, readlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { configSchema } from '../../../../src/config/schema.js'
import { createMicrovmBackend } from '../../../../src/sandbox/microvm/create.js'
import type { AgentClient } from '../../../../src/sandbox/agent-channel/types.js'
import { MicrovmSandbox } from '../../../../src/sandbox/microvm/microvm-sandbox.js'
import { DEFAULT_MAX_FILE_BYTES } from '../../../../src/sandbox/types.js'
import type { VmHandle } from '../../../../src/sandbox/microvm/types.js'
import { SafeCoderError, isSafeCoderError } from '../../../../src/shared/errors.js'
import { craftHostileDrive } from '../../../helpers/hostile-drive.js'
import { tempDir } from '../../../helpers/sandbox.js'

/** Every path under `root` (not following links) with what it is, for before/after checks. */
async function snapshot(root: string, skip: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  const walk = async (dir: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      const full = path.join(dir, name)
      if (full === skip) continue
      const info = await lstat(full)
      const rel = path.relative(root, full)
      if (info.isDirectory()) {
        out[rel] = `dir ${(info.mode & 0o7777).toString(8)}`
        await walk(full)
      } else if (info.isSymbolicLink()) out[rel] = `link ${await readlink(full)}`
      else out[rel] = `file ${(info.mode & 0o7777).toString(8)} ${await readFile(full, 'utf8')}`
    }
  }
  await walk(root)
  return out
}

/**
 * A VM that died before its final pull leaves its drive; `remove` (gc, resume) recovers it into
 * the mirror. The drive is the guest's: a crafted one must change nothing anywhere.
 */
describe('recovering a guest-written workspace drive', () => {
  it('refuses a crafted drive (climbing names, a symlink and a file of the same name) and writes nothing', async () => {
    const work = await tempDir('sc-drive-')
    const canary = path.join(work, 'canary')
    await mkdir(canary)
    await writeFile(path.join(canary, 'target.txt'), 'original\n')
    const mirror = path.join(work, 'mirror')
    await mkdir(mirror)
    await writeFile(path.join(mirror, 'kept.txt'), 'kept\n')
    const stateHome = path.join(work, 'state')
    const backend = createMicrovmBackend('qemu', configSchema.parse({}), {
      XDG_STATE_HOME: stateHome,
    })
    const runDir = path.join(stateHome, 'safe-coder/vms/vm-hostile')
    await mkdir(runDir, { recursive: true })
    await writeFile(
      path.join(runDir, 'vm.json'),
      JSON.stringify({
        id: 'vm-hostile',
        pid: 0,
        labels: { 'safe-coder.mirror': mirror },
        kind: 'qemu',
        accel: 'tcg',
        startedAt: new Date().toISOString(),
      }),
    )
    const craft = path.join(work, 'craft')
    await mkdir(craft)
    const image = await craftHostileDrive(craft, {
      linkTarget: path.join(canary, 'target.txt'),
      escapeTarget: path.join(canary, 'escaped.txt'),
    })
    await writeFile(path.join(runDir, 'workspace.ext4'), await readFile(image))
    const before = await snapshot(work, runDir)

    const error = await backend.remove('vm-hostile').then(
      () => undefined,
      (e: unknown) => e,
    )

    expect(await readFile(path.join(canary, 'target.txt'), 'utf8')).toBe('original\n')
    await expect(lstat(path.join(canary, 'escaped.txt'))).rejects.toThrow(/ENOENT/)
    expect(await snapshot(work, runDir)).toEqual(before)
    expect(isSafeCoderError(error, 'SANDBOX_FAILED'), String(error)).toBe(true)
    expect((error as Error).message).toMatch(/refused/i)
    expect((error as Error).message).toContain(path.join(runDir, 'workspace.ext4'))
    // Refused once is refused for good (the drive is only read): nothing is left to retry.
    expect(await backend.list()).toEqual([])
  }, 60_000)

  it('a sandbox whose dead VM left a refused drive says so: dispose throws, takeSkipped names it', async () => {
    const refused = new SafeCoderError('SANDBOX_FAILED', 'Refused to recover …', {
      data: { drive: '/x/workspace.ext4', refused: 'directory "d": two entries named "evil"' },
    })
    // Only what a dispose of a dead VM touches: its id and exit, kill, and a closed channel.
    const vm = {
      id: 'vm-dead',
      accel: 'kvm',
      exited: new Promise(() => undefined),
      kill: () => Promise.resolve(),
    }
    const agent = { closed: true, close: () => undefined }
    const sandbox = new MicrovmSandbox({
      kind: 'qemu',
      vm: vm as unknown as VmHandle,
      agent: agent as unknown as AgentClient,
      mirrorDir: '/nonexistent',
      user: { uid: 0, gid: 0 },
      env: {},
      maxFileBytes: DEFAULT_MAX_FILE_BYTES,
      memoryLimitBytes: 0,
      release: ({ recover }) =>
        recover ? Promise.reject(refused) : Promise.resolve({ changed: [], skipped: [] }),
    })
    await expect(sandbox.dispose()).rejects.toBe(refused)
    expect(sandbox.takeSkipped()).toEqual([
      {
        path: '.',
        reason: `nothing was recovered from the dead VM's drive: directory "d": two entries named "evil"`,
      },
    ])
  })
})
