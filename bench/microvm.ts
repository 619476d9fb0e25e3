import { chmod, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { configSchema } from '../src/config/schema.js'
import { createMicrovmBackend } from '../src/sandbox/microvm/create.js'
import { defaultGuestImageCacheDir } from '../src/sandbox/microvm/image/index.js'
import type { Sandbox, SandboxBackend } from '../src/sandbox/types.js'
import { createId } from '../src/shared/ids.js'
import { SANDBOX_IMAGE } from '../src/shared/version.js'
import { backendFor } from './exec.js'
import { formatResults, median, result, time, type BenchResult } from './lib.js'

/**
 * The QEMU microvm backend next to the Docker backend on the same machine, in one run: boot to
 * agent-ready (create + first exec answered) and the exec round trip of `true`. Here QEMU runs
 * under TCG (this host's KVM cannot run a stock kernel), so the figures are recorded, not held
 * to the KVM targets (≤ 300 ms boot, ≤ 2 ms exec).
 */
export async function benchMicrovm(options: {
  boots: number
  execs: number
}): Promise<BenchResult[]> {
  const stateHome = await mkdtemp(path.join(os.tmpdir(), 'sc-bench-vm-'))
  const config = configSchema.parse({
    vm: { accel: 'tcg', vcpu_count: 2, mem_size_mib: 1024, image_dir: defaultGuestImageCacheDir() },
  })
  const qemu = createMicrovmBackend('qemu', config, { ...process.env, XDG_STATE_HOME: stateHome })
  const docker = backendFor(SANDBOX_IMAGE)
  const mirror = await mkdtemp(path.join(os.tmpdir(), 'sc-bench-mirror-'))
  await chmod(mirror, 0o777)
  const spec = () => ({ sessionId: createId('bench'), mirrorDir: mirror, projectPath: mirror })
  const ready = async (backend: SandboxBackend, into: number[]): Promise<void> => {
    let sandbox: Sandbox | undefined
    into.push(
      await time(async () => {
        sandbox = await backend.create(spec())
        await sandbox.exec({ command: ['true'] })
      }),
    )
    await sandbox?.dispose()
  }
  const vmReady: number[] = []
  const dockerReady: number[] = []
  const vmExec: number[] = []
  const dockerExec: number[] = []
  try {
    for (let i = 0; i < options.boots; i++) {
      await ready(qemu, vmReady)
      await ready(docker, dockerReady)
    }
    const vm = await qemu.create(spec())
    const container = await docker.create(spec())
    try {
      for (let i = 0; i < 5; i++) {
        await vm.exec({ command: ['true'] })
        await container.exec({ command: ['true'] })
      }
      for (let i = 0; i < options.execs; i++) {
        vmExec.push(await time(() => vm.exec({ command: ['true'] })))
        dockerExec.push(await time(() => container.exec({ command: ['true'] })))
      }
    } finally {
      await vm.dispose()
      await container.dispose()
    }
  } finally {
    await rm(mirror, { recursive: true, force: true })
    await rm(stateHome, { recursive: true, force: true })
  }
  return [
    result(
      'boot to agent-ready, QEMU microvm (TCG)',
      'Docker sandbox ready',
      median(vmReady),
      median(dockerReady),
      Number.POSITIVE_INFINITY,
    ),
    result(
      'exec `true` p50, QEMU microvm (TCG)',
      'Docker (in-container agent)',
      median(vmExec),
      median(dockerExec),
      Number.POSITIVE_INFINITY,
    ),
  ]
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatResults(await benchMicrovm({ boots: 5, execs: 100 })))
}
