/**
 * The microVM backend's internal contracts (DESIGN.md §3): a guest image, a hypervisor that
 * boots it, and a handle on the running VM. QEMU `-M microvm` and Firecracker implement
 * `Hypervisor`; the backend (sandbox) code above them never learns which one it drives.
 */

import type { Duplex } from 'node:stream'

export type HypervisorKind = 'qemu' | 'firecracker'
export type Accel = 'kvm' | 'tcg'

/** The files one guest image is made of; all read-only and shared by every VM. */
export interface GuestImage {
  /** Directory holding the image (cache key = its name). */
  dir: string
  /** Uncompressed ELF kernel (`vmlinux`), bootable by both hypervisors. */
  kernel: string
  /** Initramfs (newc cpio): loads the virtio/ext4/overlay/vsock modules, mounts root, switches. */
  initrd: string
  /** Read-only ext4 root filesystem (Debian tree + Node + the guest agent). */
  rootfs: string
  /** `uname -r` of the guest kernel, e.g. "6.1.0-56-amd64". */
  kernelRelease: string
  /** sha256 of everything the image was built from. */
  inputs: string
}

/** One VM to boot. */
export interface VmLaunchSpec {
  /** Unique id (also the VM's name in `ps` and in `list`). */
  id: string
  /** Private runtime directory for this VM: sockets, console log, pid file. Created by the caller. */
  runDir: string
  image: GuestImage
  /** Read-write ext4 drive holding /workspace (built from the host mirror). */
  workspaceDrive: string
  vcpus: number
  memMib: number
  accel: Accel
  /** Extra kernel command line (appended). */
  kernelArgs?: string
  /** Labels kept next to the VM (runDir/vm.json) so `list`/`gc` can find it from another process. */
  labels: Record<string, string>
  signal?: AbortSignal
}

export interface VmExit {
  code: number | null
  signal: string | null
}

/** Host-side view of the VMM process (for the gauges). */
export interface VmHostStats {
  /** CPU seconds used by the VMM's threads (vCPUs included) since it started. */
  cpuSeconds: number
  /** Resident memory of the VMM process. */
  rssBytes: number
}

/** A booted (or booting) VM. */
export interface VmHandle {
  readonly id: string
  readonly kind: HypervisorKind
  readonly accel: Accel
  /** The VMM's pid on the host. */
  readonly pid: number
  /** Resolves when the VMM process exits (for any reason). */
  readonly exited: Promise<VmExit>
  /**
   * The byte stream to the guest agent: QEMU's virtio-serial chardev socket, or Firecracker's
   * vsock unix socket after the `CONNECT <port>` handshake. Resolves once connected; the agent
   * may still be booting (the caller waits for its hello with a timeout).
   */
  connectAgent(signal?: AbortSignal): Promise<Duplex>
  hostStats(): Promise<VmHostStats>
  /** The last `maxBytes` of the guest's serial console (boot messages), for error reports. */
  consoleTail(maxBytes?: number): Promise<string>
  /** Hard stop: kills the VMM. Idempotent. */
  kill(): Promise<void>
  /**
   * A write the VMM could not make to a drive file on the host (its disk is full), if any: the
   * guest saw an I/O error, and its workspace may have gone read-only.
   */
  storageError?(): string | undefined
}

export interface Hypervisor {
  readonly kind: HypervisorKind
  /** Absolute path of the VMM binary, or undefined when it is not installed. */
  binary(): Promise<string | undefined>
  /** Starts the VMM with the spec; resolves once the process runs (not when the guest is up). */
  launch(spec: VmLaunchSpec): Promise<VmHandle>
}

/** Port the guest agent listens on (vsock) and the virtio-serial port name (QEMU). */
export const AGENT_VSOCK_PORT = 1024
export const AGENT_SERIAL_NAME = 'org.safecoder.agent'
