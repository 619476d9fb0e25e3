import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import path from 'node:path'
import { toErrorInfo } from '../../shared/errors.js'
import { createId } from '../../shared/ids.js'
import { connectAgent } from '../agent-channel/client.js'
import type { AccelProbe } from './accel.js'
import { createWorkspaceDrive } from './image/index.js'
import type { Accel, GuestImage, Hypervisor, VmHandle } from './types.js'

/**
 * Boots the guest image on any hypervisor with an empty workspace and waits for the agent's
 * hello: the proof that this accelerator really runs our kernel. The VM never outlives it.
 */
export async function testBoot(options: {
  hypervisor: Hypervisor
  image: GuestImage
  accel: Accel
  timeoutMs: number
  workDir: string
}): Promise<AccelProbe> {
  const started = Date.now()
  await mkdir(options.workDir, { recursive: true, mode: 0o700 })
  const runDir = await mkdtemp(path.join(options.workDir, `boot-${options.accel}-`))
  let vm: VmHandle | undefined
  try {
    const empty = path.join(runDir, 'empty')
    await mkdir(empty)
    const drive = path.join(runDir, 'workspace.ext4')
    await createWorkspaceDrive(empty, drive, { sizeMib: 64 })
    const signal = AbortSignal.timeout(options.timeoutMs)
    vm = await options.hypervisor.launch({
      id: createId('probe'),
      runDir,
      image: options.image,
      workspaceDrive: drive,
      vcpus: 1,
      memMib: 512,
      accel: options.accel,
      labels: { 'safe-coder.probe': 'true' },
      signal,
    })
    const exited = vm.exited.then((exit) => {
      throw new Error(`the VMM exited (${exit.signal ?? `exit ${exit.code ?? '?'}`})`)
    })
    const stream = await Promise.race([vm.connectAgent(signal), exited])
    const agent = await Promise.race([
      connectAgent(stream, {
        helloTimeoutMs: Math.max(1, options.timeoutMs - (Date.now() - started)),
      }),
      exited,
    ])
    agent.close()
    exited.catch(() => undefined)
    return { ok: true, accel: options.accel, ms: Date.now() - started }
  } catch (error) {
    return {
      ok: false,
      accel: options.accel,
      ms: Date.now() - started,
      reason: toErrorInfo(error).message,
    }
  } finally {
    await vm?.kill().catch(() => undefined)
    await rm(runDir, { recursive: true, force: true }).catch(() => undefined)
  }
}
