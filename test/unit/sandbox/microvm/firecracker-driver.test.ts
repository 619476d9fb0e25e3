import { existsSync } from 'node:fs'
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Duplex } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { describe, expect, it, onTestFinished } from 'vitest'
import {
  FirecrackerHypervisor,
  type FirecrackerOptions,
  type FirecrackerVm,
} from '../../../../src/sandbox/microvm/firecracker/index.js'
import type { VmLaunchSpec } from '../../../../src/sandbox/microvm/types.js'
import { SafeCoderError } from '../../../../src/shared/errors.js'
import { isProcessAlive } from '../../../../src/shared/process-alive.js'
import {
  FAKE_FIRECRACKER_BIN,
  type FakeCall,
  validateConfigFile,
  validateRequest,
} from '../../../helpers/fake-firecracker.js'
import { tempDir } from '../../../helpers/sandbox.js'

/** The guest agent's entry (src/guest), when it is there. */
const GUEST_MAIN = fileURLToPath(new URL('../../../../src/guest/main.ts', import.meta.url))

interface Setup {
  dir: string
  spec: VmLaunchSpec
  callLog: string
  env: NodeJS.ProcessEnv
  hypervisor: (options?: FirecrackerOptions) => FirecrackerHypervisor
  launch: (
    options?: FirecrackerOptions,
    overrides?: Partial<VmLaunchSpec>,
  ) => Promise<FirecrackerVm>
  calls: () => Promise<FakeCall[]>
}

/** Guest image files, a run directory and a hypervisor driving the fake binary. */
async function setup(fakeEnv: Record<string, string> = {}): Promise<Setup> {
  const dir = await tempDir('sc-fc-')
  const image = path.join(dir, 'image')
  const runDir = path.join(dir, 'run')
  await mkdir(image)
  await mkdir(runDir)
  for (const name of ['vmlinux', 'initrd.cpio', 'rootfs.ext4']) {
    await writeFile(path.join(image, name), name)
  }
  await writeFile(path.join(runDir, 'workspace.ext4'), 'ws')
  const callLog = path.join(dir, 'calls.jsonl')
  const env = { ...process.env, FAKE_FC_LOG: callLog, ...fakeEnv }
  const spec: VmLaunchSpec = {
    id: 'sc-vm_1',
    runDir,
    image: {
      dir: image,
      kernel: path.join(image, 'vmlinux'),
      initrd: path.join(image, 'initrd.cpio'),
      rootfs: path.join(image, 'rootfs.ext4'),
      kernelRelease: '6.1.0-fake',
      inputs: 'x',
    },
    workspaceDrive: path.join(runDir, 'workspace.ext4'),
    vcpus: 2,
    memMib: 512,
    accel: 'kvm',
    kernelArgs: 'quiet',
    labels: { 'safe-coder.session': 'sess-1' },
  }
  const hypervisor = (options: FirecrackerOptions = {}): FirecrackerHypervisor =>
    new FirecrackerHypervisor(FAKE_FIRECRACKER_BIN, { env, agentTimeoutMs: 15_000, ...options })
  const launch = async (
    options: FirecrackerOptions = {},
    overrides: Partial<VmLaunchSpec> = {},
  ): Promise<FirecrackerVm> => {
    const vm = await hypervisor(options).launch({ ...spec, ...overrides })
    onTestFinished(() => vm.kill())
    return vm
  }
  const calls = async (): Promise<FakeCall[]> => {
    const text = await readFile(callLog, 'utf8').catch(() => '')
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as FakeCall)
  }
  return { dir, spec, callLog, env, hypervisor, launch, calls }
}

async function rejection(promise: Promise<unknown>): Promise<SafeCoderError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof SafeCoderError) return error
    throw error
  }
  throw new Error('expected a rejection')
}

function exchange(stream: Duplex, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = ''
    const onData = (chunk: Buffer): void => {
      got += chunk.toString('utf8')
      if (got.length >= text.length) {
        stream.off('data', onData)
        resolve(got)
      }
    }
    stream.on('data', onData)
    stream.on('error', reject)
    stream.write(text)
  })
}

async function script(dir: string, name: string, body: string): Promise<string> {
  const file = path.join(dir, name)
  await writeFile(file, `#!/bin/sh\n${body}\n`)
  await chmod(file, 0o755)
  return file
}

describe('FirecrackerHypervisor with the fake firecracker binary', () => {
  it('finds the binary', async () => {
    const { hypervisor } = await setup()
    expect(await hypervisor().binary()).toBe(FAKE_FIRECRACKER_BIN)
    expect(await new FirecrackerHypervisor('no-such-firecracker').binary()).toBeUndefined()
  })

  it('launches: every request valid against the schema, in order, then InstanceStart', async () => {
    const { launch, calls, spec } = await setup()
    const vm = await launch()
    expect(vm.kind).toBe('firecracker')
    expect(vm.accel).toBe('kvm')
    expect(vm.id).toBe('sc-vm_1')

    const log = await calls()
    for (const call of log) {
      expect(
        validateRequest(call.method, call.path, call.body),
        `${call.method} ${call.path}`,
      ).toEqual([])
      expect(call.status, `${call.method} ${call.path}: ${call.fault ?? ''}`).toBeLessThan(300)
    }
    // The API is polled (GET /) until it answers, then configured.
    expect(log[0]).toMatchObject({ method: 'GET', path: '/' })
    expect(log.filter((c) => c.method === 'PUT').map((c) => c.path)).toEqual([
      '/logger',
      '/machine-config',
      '/boot-source',
      '/drives/rootfs',
      '/drives/workspace',
      '/vsock',
      '/actions',
    ])
    const put = (p: string): unknown => log.find((c) => c.method === 'PUT' && c.path === p)?.body
    expect(put('/actions')).toEqual({ action_type: 'InstanceStart' })
    expect(put('/drives/rootfs')).toMatchObject({ is_root_device: false, is_read_only: true })
    expect(put('/drives/workspace')).toMatchObject({
      is_root_device: false,
      is_read_only: false,
      path_on_host: spec.workspaceDrive,
    })
    expect(put('/vsock')).toEqual({ guest_cid: 3, uds_path: path.join(spec.runDir, 'vsock.sock') })

    // The process carries the sanitised id; vm.json the real one.
    const cmdline = (await readFile(`/proc/${vm.pid}/cmdline`, 'utf8')).split('\0')
    expect(cmdline).toEqual(
      expect.arrayContaining([
        '--api-sock',
        path.join(spec.runDir, 'firecracker.sock'),
        '--id',
        'sc-vm-1',
      ]),
    )
    const vmJson = JSON.parse(await readFile(path.join(spec.runDir, 'vm.json'), 'utf8')) as Record<
      string,
      unknown
    >
    expect(vmJson).toMatchObject({
      id: 'sc-vm_1',
      pid: vm.pid,
      labels: { 'safe-coder.session': 'sess-1' },
      kind: 'firecracker',
      accel: 'kvm',
    })
    expect(new Date(String(vmJson.startedAt)).getTime()).toBeGreaterThan(Date.now() - 60_000)
  })

  it('keeps the serial console in console.log', async () => {
    const { launch } = await setup()
    const vm = await launch()
    await expect
      .poll(() => vm.consoleTail(), { timeout: 5000 })
      .toMatch(/Command line: console=ttyS0 reboot=k panic=1 pci=off .* quiet/)
    const tail = await vm.consoleTail(20)
    expect(tail.length).toBeLessThanOrEqual(20)
  })

  it('end to end: launch → connectAgent → bytes through the guest → kill', async () => {
    // The guest's port is served by `cat` (an echo through a real child process), and the
    // agent only listens 400 ms after InstanceStart: connectAgent retries until then.
    const { launch } = await setup({ FAKE_FC_GUEST: 'cat', FAKE_FC_GUEST_DELAY_MS: '400' })
    const vm = await launch()
    const started = Date.now()
    const stream = await vm.connectAgent()
    expect(Date.now() - started).toBeGreaterThanOrEqual(100)
    expect(await exchange(stream, 'hello guest\n')).toBe('hello guest\n')
    const big = 'x'.repeat(256 * 1024)
    expect((await exchange(stream, big)).length).toBe(big.length)

    const stats = await vm.hostStats()
    expect(stats.rssBytes).toBeGreaterThan(0)
    expect(stats.cpuSeconds).toBeGreaterThan(0)

    await vm.kill()
    expect(await vm.exited).toEqual({ code: null, signal: 'SIGKILL' })
    expect(isProcessAlive(vm.pid)).toBe(false)
    await vm.kill() // idempotent
    await expect(vm.hostStats()).rejects.toMatchObject({ code: 'SANDBOX_GONE' })
    stream.destroy()
  })

  it.skipIf(!existsSync(GUEST_MAIN))(
    'end to end with the real guest agent behind the vsock port: its hello arrives',
    async () => {
      const root = await tempDir('sc-fc-root-')
      const loader = fileURLToPath(
        new URL('../../../../node_modules/tsx/dist/loader.mjs', import.meta.url),
      )
      const { launch } = await setup({
        FAKE_FC_GUEST: `exec node --import file://${loader} ${GUEST_MAIN} --stdio --root ${root}`,
        FAKE_FC_GUEST_DELAY_MS: '200',
      })
      const vm = await launch()
      const stream = await vm.connectAgent()
      const first = await new Promise<string>((resolve, reject) => {
        let got = Buffer.alloc(0)
        const onData = (chunk: Buffer): void => {
          got = Buffer.concat([got, chunk])
          if (got.includes('"op":"hello"')) {
            stream.off('data', onData)
            resolve(got.toString('latin1'))
          }
        }
        stream.on('data', onData)
        stream.on('error', reject)
      })
      expect(first).toContain('"protocol":')
      // The agent's diagnostics (stderr) end up on the serial console, as in a real guest.
      await expect.poll(() => vm.consoleTail(), { timeout: 5000 }).toMatch(/safe-coder-agent\[/)
      stream.destroy()
    },
    20_000,
  )

  it('resolves exited when the VMM exits by itself; connectAgent then fails fast', async () => {
    const { launch } = await setup({
      FAKE_FC_EXIT_AFTER_START_MS: '200',
      FAKE_FC_EXIT_CODE: '3',
      FAKE_FC_GUEST_DELAY_MS: '60000',
    })
    const vm = await launch()
    const connecting = rejection(vm.connectAgent())
    expect(await vm.exited).toEqual({ code: 3, signal: null })
    const error = await connecting
    expect(error.code).toBe('SANDBOX_FAILED')
    expect(error.message).toMatch(/^The microVM stopped \(exit 3\)/)
    expect(await vm.consoleTail()).toMatch(/Kernel panic/)
  })

  it('shuts down gracefully with SendCtrlAltDel', async () => {
    const { launch, calls } = await setup()
    const vm = await launch()
    expect(await vm.shutdown(5000)).toEqual({ code: 0, signal: null })
    const log = await calls()
    expect(log.at(-1)).toMatchObject({
      method: 'PUT',
      path: '/actions',
      body: { action_type: 'SendCtrlAltDel' },
      status: 204,
    })
  })

  it("surfaces a refusal with Firecracker's fault message and stops the VMM", async () => {
    const { hypervisor, spec } = await setup({
      FAKE_FC_FAULTS: JSON.stringify({
        'PUT /drives/workspace':
          'Unable to create the block device: Permission denied (os error 13)',
      }),
    })
    const error = await rejection(hypervisor().launch(spec))
    expect(error.code).toBe('SANDBOX_FAILED')
    expect(error.message).toBe(
      'Firecracker refused PUT /drives/workspace: Unable to create the block device: Permission denied (os error 13)',
    )
    expect(error.hint).toContain(spec.workspaceDrive)
    expect(error.data).toMatchObject({ status: 400, runDir: spec.runDir })
    const vmJson = JSON.parse(await readFile(path.join(spec.runDir, 'vm.json'), 'utf8')) as {
      pid: number
    }
    expect(isProcessAlive(vmJson.pid)).toBe(false)
  })

  it('surfaces what the fake VMM itself refuses (a missing workspace drive)', async () => {
    const { hypervisor, spec } = await setup()
    const error = await rejection(
      hypervisor().launch({ ...spec, workspaceDrive: path.join(spec.runDir, 'gone.ext4') }),
    )
    expect(error.message).toMatch(
      /^Firecracker refused PUT \/drives\/workspace: .*No such file or directory/,
    )
  })

  it('reports a VMM that exits before its API is up, with what it printed', async () => {
    const { dir, spec } = await setup()
    const broken = await script(
      dir,
      'firecracker',
      'echo "Error: KVM is not available" >&2; exit 1',
    )
    const error = await rejection(new FirecrackerHypervisor(broken).launch(spec))
    expect(error.code).toBe('SANDBOX_FAILED')
    expect(error.message).toBe(
      'Firecracker exited before its API came up (exit 1): Error: KVM is not available',
    )
    expect(error.data).toMatchObject({ exit: 'exit 1' })
  })

  it('refuses TCG: Firecracker is KVM-only', async () => {
    const { hypervisor, spec } = await setup()
    const error = await rejection(hypervisor().launch({ ...spec, accel: 'tcg' }))
    expect(error.code).toBe('BACKEND_UNAVAILABLE')
    expect(error.message).toMatch(/only under KVM/)
    expect(error.hint).toMatch(/QEMU/)
    await expect(stat(path.join(spec.runDir, 'vm.json'))).rejects.toThrow()
  })

  it('says when the binary is missing', async () => {
    const { spec } = await setup()
    const error = await rejection(new FirecrackerHypervisor('no-such-firecracker').launch(spec))
    expect(error.code).toBe('BACKEND_UNAVAILABLE')
    expect(error.message).toBe(
      'The Firecracker binary "no-such-firecracker" was not found on PATH.',
    )
  })

  it('replaces stale sockets from an earlier run', async () => {
    const { launch, spec } = await setup({ FAKE_FC_GUEST: 'cat' })
    await writeFile(path.join(spec.runDir, 'firecracker.sock'), '')
    await writeFile(path.join(spec.runDir, 'vsock.sock'), '')
    const vm = await launch()
    const stream = await vm.connectAgent()
    expect(await exchange(stream, 'ok')).toBe('ok')
    stream.destroy()
  })

  it('fails connectAgent at once when the vsock answers something other than OK', async () => {
    const { launch } = await setup({ FAKE_FC_VSOCK_REPLY: 'ERR no such port' })
    const vm = await launch()
    const error = await rejection(vm.connectAgent())
    expect(error.code).toBe('SANDBOX_FAILED')
    expect(error.message).toBe(
      `Firecracker's vsock answered CONNECT 1024 with "ERR no such port" (expected "OK <port>")`,
    )
  })

  it('says when the VM directory is missing', async () => {
    const { hypervisor, spec } = await setup()
    const error = await rejection(
      hypervisor().launch({ ...spec, runDir: path.join(spec.runDir, 'absent') }),
    )
    expect(error.code).toBe('SANDBOX_FAILED')
    expect(error.message).toMatch(/^Could not prepare the VM directory .*absent: ENOENT/)
  })

  it('refuses socket paths longer than a unix socket allows', async () => {
    const { hypervisor, spec } = await setup()
    const error = await rejection(
      hypervisor().launch({ ...spec, runDir: `/tmp/${'d'.repeat(100)}` }),
    )
    expect(error.code).toBe('SANDBOX_FAILED')
    expect(error.message).toMatch(/longer than the 107 bytes/)
  })

  it('can boot from an equivalent --config-file instead', async () => {
    const { launch, calls, spec } = await setup({ FAKE_FC_GUEST: 'cat' })
    const vm = await launch({ launchMode: 'config-file' })
    const config = JSON.parse(
      await readFile(path.join(spec.runDir, 'firecracker.json'), 'utf8'),
    ) as unknown
    expect(validateConfigFile(config)).toEqual([])
    expect((await calls()).filter((c) => c.method === 'PUT')).toEqual([])
    const cmdline = (await readFile(`/proc/${vm.pid}/cmdline`, 'utf8')).split('\0')
    expect(cmdline).toEqual(
      expect.arrayContaining(['--config-file', path.join(spec.runDir, 'firecracker.json')]),
    )
    const stream = await vm.connectAgent()
    expect(await exchange(stream, 'via config')).toBe('via config')
    stream.destroy()
  })

  it('is cancelled by the launch signal and leaves no VMM behind', async () => {
    const { hypervisor, spec } = await setup()
    const controller = new AbortController()
    const launching = rejection(hypervisor().launch({ ...spec, signal: controller.signal }))
    // Abort once the process exists (vm.json written), while it is being configured.
    await expect
      .poll(() =>
        stat(path.join(spec.runDir, 'vm.json')).then(
          () => true,
          () => false,
        ),
      )
      .toBe(true)
    controller.abort()
    const error = await launching
    expect(error.code).toBe('ABORTED')
    const { pid } = JSON.parse(await readFile(path.join(spec.runDir, 'vm.json'), 'utf8')) as {
      pid: number
    }
    expect(isProcessAlive(pid)).toBe(false)
  })
})
