import path from 'node:path'
import { SafeCoderError } from '../../../shared/errors.js'
import type { VmLaunchSpec } from '../types.js'

/**
 * What Firecracker is told about one VM, as plain data: the ordered API requests of the default
 * launch path, and the equivalent `--config-file` document. Both come from `vmResources`, so the
 * two launch paths cannot drift apart. Field names follow Firecracker's public API schema
 * (`src/firecracker/swagger/firecracker.yaml`); only fields present since Firecracker 1.0 are
 * sent, and optional ones are left out so a newer or older VMM applies its own defaults.
 */

/** Files and sockets of one VM inside its runDir. */
export interface FirecrackerPaths {
  runDir: string
  /** Firecracker's HTTP API (`--api-sock`). */
  apiSocket: string
  /** Host side of the vsock device (`uds_path`); host-initiated connections start here. */
  vsockSocket: string
  /** The guest's serial console (Firecracker's stdout) and the VMM's stderr. */
  consoleLog: string
  /** Firecracker's own log (`PUT /logger`). */
  vmmLog: string
  /** `{ id, pid, labels, kind, accel, startedAt }` for `list`/`gc` from other processes. */
  vmJson: string
  /** The `--config-file` document, when launched that way. */
  configFile: string
}

export function firecrackerPaths(runDir: string): FirecrackerPaths {
  return {
    runDir,
    apiSocket: path.join(runDir, 'firecracker.sock'),
    vsockSocket: path.join(runDir, 'vsock.sock'),
    consoleLog: path.join(runDir, 'console.log'),
    vmmLog: path.join(runDir, 'firecracker.log'),
    vmJson: path.join(runDir, 'vm.json'),
    configFile: path.join(runDir, 'firecracker.json'),
  }
}

/** The guest's vsock context id. 0-2 are reserved (hypervisor, local, host); one guest per VMM. */
export const GUEST_CID = 3

/** Firecracker's vCPU limit (`MachineConfiguration.vcpu_count`: minimum 1, maximum 32). */
export const MAX_VCPUS = 32

/**
 * Kernel command line every VM gets. `console=ttyS0`: the serial port is Firecracker's stdout.
 * `reboot=k`: a guest reboot resets through the keyboard controller, which makes Firecracker
 * exit. `panic=1`: a panicking guest reboots (so the VMM exits) after one second. `pci=off`:
 * Firecracker's devices are virtio-mmio. The `i8042.*` switches skip probing for devices
 * Firecracker does not emulate (Firecracker's actions docs), keeping the keyboard that
 * `SendCtrlAltDel` needs.
 */
export const BASE_BOOT_ARGS =
  'console=ttyS0 reboot=k panic=1 pci=off i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd'

/** Drive ids: Firecracker accepts only ASCII letters, digits and `_` in resource ids. */
export const ROOTFS_DRIVE_ID = 'rootfs'
export const WORKSPACE_DRIVE_ID = 'workspace'

/**
 * Firecracker's instance id charset (`--id`): ASCII letters, digits and `-`, 1 to 64 characters
 * (older releases also want a letter or digit first). Anything else becomes `-`; the real id
 * stays in vm.json, this one only names the process and its log lines.
 */
export function sanitizeFirecrackerId(id: string): string {
  const cleaned = id
    .replace(/[^A-Za-z0-9-]/g, '-')
    .replace(/^-+/, '')
    .slice(0, 64)
  return cleaned === '' ? 'safe-coder-vm' : cleaned
}

export function bootArgs(spec: Pick<VmLaunchSpec, 'kernelArgs'>): string {
  const extra = spec.kernelArgs?.trim() ?? ''
  return extra === '' ? BASE_BOOT_ARGS : `${BASE_BOOT_ARGS} ${extra}`
}

export interface FirecrackerRequest {
  method: 'PUT'
  path: string
  body: Record<string, unknown>
}

/** The pieces of one VM, each in the shape both the API and `--config-file` take. */
interface VmResources {
  logger: Record<string, unknown>
  machineConfig: Record<string, unknown>
  bootSource: Record<string, unknown>
  drives: Record<string, unknown>[]
  vsock: Record<string, unknown>
}

function vmResources(spec: VmLaunchSpec, paths: FirecrackerPaths): VmResources {
  checkSizes(spec)
  return {
    logger: { log_path: paths.vmmLog, level: 'Warning', show_level: true },
    machineConfig: { vcpu_count: spec.vcpus, mem_size_mib: spec.memMib, smt: false },
    bootSource: {
      kernel_image_path: spec.image.kernel,
      initrd_path: spec.image.initrd,
      boot_args: bootArgs(spec),
    },
    // The initramfs is the root at boot and mounts the drives itself, so neither is Firecracker's
    // "root device" (its initrd docs: no `is_root_device: true` with an initrd). Firecracker
    // attaches drives in the order they are added: /dev/vda = rootfs, /dev/vdb = workspace.
    drives: [
      {
        drive_id: ROOTFS_DRIVE_ID,
        path_on_host: spec.image.rootfs,
        is_root_device: false,
        is_read_only: true,
      },
      {
        drive_id: WORKSPACE_DRIVE_ID,
        path_on_host: spec.workspaceDrive,
        is_root_device: false,
        is_read_only: false,
      },
    ],
    vsock: { guest_cid: GUEST_CID, uds_path: paths.vsockSocket },
  }
}

/**
 * The API requests that configure and start one VM, in the order they are sent: the logger
 * first (so later errors land in the VMM log), then machine, kernel, drives, vsock, and
 * `InstanceStart` last.
 */
export function firecrackerRequests(
  spec: VmLaunchSpec,
  paths: FirecrackerPaths,
): FirecrackerRequest[] {
  const r = vmResources(spec, paths)
  return [
    { method: 'PUT', path: '/logger', body: r.logger },
    { method: 'PUT', path: '/machine-config', body: r.machineConfig },
    { method: 'PUT', path: '/boot-source', body: r.bootSource },
    ...r.drives.map((drive) => ({
      method: 'PUT' as const,
      path: `/drives/${String(drive.drive_id)}`,
      body: drive,
    })),
    { method: 'PUT', path: '/vsock', body: r.vsock },
    { method: 'PUT', path: '/actions', body: { action_type: 'InstanceStart' } },
  ]
}

/**
 * The same VM as one `--config-file` document (schema: `FullVmConfiguration`). Firecracker boots
 * it at once, without `InstanceStart`.
 */
export function firecrackerConfig(
  spec: VmLaunchSpec,
  paths: FirecrackerPaths,
): Record<string, unknown> {
  const r = vmResources(spec, paths)
  return {
    logger: r.logger,
    'machine-config': r.machineConfig,
    'boot-source': r.bootSource,
    drives: r.drives,
    vsock: r.vsock,
  }
}

function checkSizes(spec: Pick<VmLaunchSpec, 'vcpus' | 'memMib'>): void {
  if (!Number.isInteger(spec.vcpus) || spec.vcpus < 1 || spec.vcpus > MAX_VCPUS) {
    throw new SafeCoderError(
      'CONFIG_INVALID',
      `Firecracker runs 1 to ${MAX_VCPUS} vCPUs; ${spec.vcpus} were asked for.`,
      {
        hint: `Set [vm] vcpu_count to a whole number from 1 to ${MAX_VCPUS}.`,
        data: { vcpus: spec.vcpus },
      },
    )
  }
  if (!Number.isInteger(spec.memMib) || spec.memMib < 1) {
    throw new SafeCoderError(
      'CONFIG_INVALID',
      `A microVM needs a whole, positive number of MiB of memory; ${spec.memMib} was asked for.`,
      { hint: 'Set [vm] mem_size_mib to a positive whole number.', data: { memMib: spec.memMib } },
    )
  }
}
