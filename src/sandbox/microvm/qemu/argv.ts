import path from 'node:path'
import { ROOT_DRIVE_SERIAL, WORKSPACE_DRIVE_SERIAL } from '../image/init-scripts.js'
import { AGENT_SERIAL_NAME, type VmLaunchSpec } from '../types.js'

/**
 * QEMU's command line for one guest, as plain data. `-M microvm`: a machine with no PCI and no
 * legacy devices beyond what is asked for; virtio-mmio transports for the two drives and the
 * agent's virtio-serial port. There is no `-netdev`/`-nic` and `-nodefaults` drops the default
 * NIC, so the guest has no network device at all (only `lo`).
 */

/** Files and sockets of one VM, relative to its runDir (QEMU runs with runDir as cwd). */
export const QEMU_FILES = {
  agentSocket: 'agent.sock',
  qmpSocket: 'qmp.sock',
  consoleLog: 'console.log',
  /** QEMU's own stdout/stderr (its error messages). */
  vmmLog: 'qemu.log',
  vmJson: 'vm.json',
} as const

export interface QemuPaths {
  runDir: string
  agentSocket: string
  qmpSocket: string
  consoleLog: string
  vmmLog: string
  vmJson: string
}

export function qemuPaths(runDir: string): QemuPaths {
  const at = (name: string): string => path.join(runDir, name)
  return {
    runDir,
    agentSocket: at(QEMU_FILES.agentSocket),
    qmpSocket: at(QEMU_FILES.qmpSocket),
    consoleLog: at(QEMU_FILES.consoleLog),
    vmmLog: at(QEMU_FILES.vmmLog),
    vmJson: at(QEMU_FILES.vmJson),
  }
}

/**
 * Kernel command line. `console=ttyS0`: the ISA serial port is the console (written to
 * console.log). `panic=1`: a panicking guest reboots after a second, and with `-no-reboot` a
 * guest reboot makes QEMU exit (the guest's own `reboot -f` at the end goes the same way).
 * `8250.nr_uarts=1`: one serial port to register, not 32.
 */
export const QEMU_BOOT_ARGS = 'console=ttyS0 panic=1 8250.nr_uarts=1'

export function qemuBootArgs(
  spec: Pick<VmLaunchSpec, 'kernelArgs' | 'accel'>,
  options: Pick<QemuArgsOptions, 'tscKhz'> = {},
): string {
  const parts = [QEMU_BOOT_ARGS]
  if (spec.accel === 'tcg' && options.tscKhz !== undefined && options.tscKhz > 0)
    parts.push(`tsc_early_khz=${Math.round(options.tscKhz)}`)
  const extra = spec.kernelArgs?.trim() ?? ''
  if (extra !== '') parts.push(extra)
  return parts.join(' ')
}

/**
 * The host's TSC frequency in kHz from /proc/cpuinfo (`cpu MHz`, the highest listed: in a VM
 * and on hosts with an invariant TSC it is the TSC rate), or undefined.
 */
export function tscKhzOfCpuinfo(cpuinfo: string): number | undefined {
  let best: number | undefined
  for (const match of cpuinfo.matchAll(/^cpu MHz\s*:\s*([\d.]+)/gm)) {
    const khz = Math.round(Number(match[1]) * 1000)
    if (Number.isFinite(khz) && khz > 0 && (best === undefined || khz > best)) best = khz
  }
  return best
}

/** QEMU's option syntax splits on `,`; a literal comma in a value is written `,,`. */
export function qemuValue(value: string): string {
  return value.replace(/,/g, ',,')
}

export interface QemuArgsOptions {
  /** Enable QEMU's seccomp sandbox (needs QEMU built with seccomp, as Debian's is). */
  seccomp?: boolean
  /** `-cpu` model; default `host` under KVM, `max` under TCG. */
  cpu?: string
  /**
   * The host's TSC frequency in kHz, passed to a TCG guest as `tsc_early_khz`. Under TCG the
   * guest's TSC is the host's, but the kernel calibrates it against the emulated PIT, which
   * fails on a busy host ("Unable to calibrate against PIT") and then hangs the boot waiting
   * for the delay-loop calibration. A known frequency skips both calibrations.
   */
  tscKhz?: number
}

/** argv (without the binary) for `spec`; socket and log names are relative to the runDir. */
export function qemuArgs(spec: VmLaunchSpec, options: QemuArgsOptions = {}): string[] {
  if (!Number.isInteger(spec.vcpus) || spec.vcpus < 1 || spec.vcpus > 255)
    throw new RangeError(`vcpus must be an integer from 1 to 255 (got ${spec.vcpus})`)
  if (!Number.isInteger(spec.memMib) || spec.memMib < 128)
    throw new RangeError(`memMib must be an integer ≥ 128 (got ${spec.memMib})`)
  const machine = [
    'microvm',
    // No option ROMs (no BIOS extensions to load: the kernel is booted directly through PVH).
    'x-option-roms=off',
    // The console.
    'isa-serial=on',
    // A real-time clock, so the guest starts with the right date.
    'rtc=on',
  ].join(',')
  const args = [
    '-name',
    `guest=${qemuValue(spec.id)}`,
    '-M',
    machine,
    '-accel',
    spec.accel,
    '-cpu',
    options.cpu ?? (spec.accel === 'kvm' ? 'host' : 'max'),
    '-m',
    String(spec.memMib),
    '-smp',
    String(spec.vcpus),
    '-nodefaults',
    '-no-user-config',
    '-nographic',
    '-no-reboot',
    // Modern (virtio 1.x) transports; the microvm default is the legacy interface.
    '-global',
    'virtio-mmio.force-legacy=false',
    // QEMU runs in the runDir: every host path is made absolute.
    '-kernel',
    path.resolve(spec.image.kernel),
    '-initrd',
    path.resolve(spec.image.initrd),
    '-append',
    qemuBootArgs(spec, options),
    // The shared base image: read-only, so any number of VMs may open it at once.
    '-drive',
    `id=root,file=${qemuValue(path.resolve(spec.image.rootfs))},format=raw,if=none,readonly=on`,
    '-device',
    `virtio-blk-device,drive=root,serial=${ROOT_DRIVE_SERIAL}`,
    // A host disk that fills up must fail the guest's write (EIO, the command fails and the host
    // says the disk is full), not pause the VM forever as QEMU's default `werror=enospc` does.
    '-drive',
    `id=workspace,file=${qemuValue(path.resolve(spec.workspaceDrive))},format=raw,if=none,discard=unmap,werror=report,rerror=report`,
    '-device',
    `virtio-blk-device,drive=workspace,serial=${WORKSPACE_DRIVE_SERIAL}`,
    // The agent channel: a named virtio-serial port, a unix socket on the host.
    '-device',
    'virtio-serial-device',
    '-chardev',
    `socket,id=agent,path=${QEMU_FILES.agentSocket},server=on,wait=off`,
    '-device',
    `virtserialport,chardev=agent,name=${AGENT_SERIAL_NAME}`,
    '-chardev',
    `file,id=console,path=${QEMU_FILES.consoleLog}`,
    '-serial',
    'chardev:console',
    '-qmp',
    `unix:${QEMU_FILES.qmpSocket},server=on,wait=off`,
  ]
  if (options.seccomp === true) {
    args.push('-sandbox', 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny')
  }
  return args
}
