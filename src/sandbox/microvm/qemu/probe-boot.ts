import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { sleep } from '../../../shared/abort.js'
import { isSafeCoderError } from '../../../shared/errors.js'
import { AGENT_MARKER, BOOT_ERROR_PREFIX } from '../image/init-scripts.js'
import { createWorkspaceDrive } from '../image/workspace-drive.js'
import type { Accel, GuestImage } from '../types.js'
import { QemuHypervisor, type QemuVm } from './hypervisor.js'
import { fileTail } from '../host-stats.js'

export interface ProbeBootOptions {
  image: GuestImage
  accel: Accel
  /** Give up after this long (e.g. 20 s for KVM; a TCG boot takes ~10 s here). */
  timeoutMs: number
  /** The hypervisor to boot with (default: QEMU from PATH). */
  hypervisor?: QemuHypervisor
  vcpus?: number
  memMib?: number
  kernelArgs?: string
  /** Parent of the probe's temporary runDir (default: the OS temp dir). */
  workDir?: string
  signal?: AbortSignal
}

export interface ProbeBootResult {
  ok: boolean
  accel: Accel
  /** From launch to the agent marker (or to the failure). */
  ms: number
  reason?: string
  consoleTail: string
}

const POLL_MS = 50
/** QEMU's own words for a guest it cannot run (printed on its stderr). */
const VMM_FAILURES = [/KVM internal error.*/i, /emulation failure.*/i, /Failed to .*KVM.*/i]

/**
 * Test-boots the guest image: launches it with a throwaway workspace drive, waits for the
 * agent marker on the console, then kills the VM. A guest that the accelerator cannot run
 * (e.g. a paravirtualised KVM that stops with an emulation failure: QEMU then pauses the VM
 * rather than exiting) is reported from QEMU's log or the VM status as soon as it is seen, and
 * never later than the timeout. The VMM never outlives the probe.
 */
export async function probeBoot(options: ProbeBootOptions): Promise<ProbeBootResult> {
  const hypervisor = options.hypervisor ?? new QemuHypervisor()
  const parent = options.workDir ?? os.tmpdir()
  await mkdir(parent, { recursive: true })
  const runDir = await mkdtemp(path.join(parent, `probe-${options.accel}-`))
  const started = Date.now()
  let vm: QemuVm | undefined
  const result = (ok: boolean, reason?: string, tail = ''): ProbeBootResult => ({
    ok,
    accel: options.accel,
    ms: Date.now() - started,
    ...(reason === undefined ? {} : { reason }),
    consoleTail: tail,
  })
  try {
    const empty = path.join(runDir, 'empty')
    await mkdir(empty)
    const drive = path.join(runDir, 'workspace.ext4')
    await createWorkspaceDrive(empty, drive, { sizeMib: 16 })
    try {
      vm = await hypervisor.launch({
        id: `probe-${options.accel}-${process.pid}-${started.toString(36)}`,
        runDir,
        image: options.image,
        workspaceDrive: drive,
        vcpus: options.vcpus ?? 1,
        memMib: options.memMib ?? 512,
        accel: options.accel,
        ...(options.kernelArgs === undefined ? {} : { kernelArgs: options.kernelArgs }),
        labels: { 'safe-coder.probe': 'true' },
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      })
    } catch (error) {
      if (isSafeCoderError(error, 'ABORTED')) throw error
      return result(false, error instanceof Error ? error.message : String(error))
    }
    const deadline = started + options.timeoutMs
    let lastStatusCheck = 0
    for (;;) {
      const console = await vm.consoleTail(64 * 1024)
      if (console.includes(AGENT_MARKER)) return result(true, undefined, lastLines(console))
      const bootError = console.split('\n').find((line) => line.startsWith(BOOT_ERROR_PREFIX))
      if (bootError !== undefined) return result(false, bootError.trim(), lastLines(console))
      const vmmLog = await fileTail(vm.paths.vmmLog, 8 * 1024)
      const vmmFailure = VMM_FAILURES.map((re) => re.exec(vmmLog)?.[0]).find((m) => m !== undefined)
      if (vmmFailure !== undefined)
        return result(false, `QEMU: ${vmmFailure.trim()}`, lastLines(console))
      const exit = await Promise.race([vm.exited, sleep(0).then(() => undefined)])
      if (exit !== undefined) {
        const why = lastLines(vmmLog.replace(/^--- .*$/gm, ''), 2)
          .trim()
          .replace(/\n/g, ' / ')
        return result(
          false,
          `the VM stopped before the agent started (${exit.signal ?? `exit ${exit.code ?? '?'}`})${why === '' ? '' : `: ${why}`}`,
          lastLines(console),
        )
      }
      if (Date.now() - lastStatusCheck > 500 && vm.qmp !== undefined && !vm.qmp.closed) {
        lastStatusCheck = Date.now()
        const status = await vm.qmp.queryStatus().catch(() => undefined)
        if (status !== undefined && !['running', 'prelaunch'].includes(status.status))
          return result(false, `the VM is ${status.status}`, lastLines(console))
      }
      if (Date.now() >= deadline) {
        const last = lastLines(console, 1).trim()
        return result(
          false,
          `no agent within ${Math.round(options.timeoutMs / 1000)} s${last === '' ? ' (the console is empty)' : `; the console last said: ${last}`}`,
          lastLines(console),
        )
      }
      await sleep(POLL_MS, options.signal)
    }
  } finally {
    await vm?.kill()
    await rm(runDir, { recursive: true, force: true }).catch(() => undefined)
  }
}

function lastLines(text: string, count = 30): string {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(-count)
    .join('\n')
}
