import { chmod, mkdir, readFile, readdir, rm, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createId } from '../../shared/ids.js'
import { SafeCoderError, toErrorInfo } from '../../shared/errors.js'
import { isProcessAlive } from '../../shared/process-alive.js'
import { connectAgent } from '../agent-channel/client.js'
import type {
  DiskLimits,
  ImageInfo,
  ProbeResult,
  Sandbox,
  SandboxBackend,
  SandboxInfo,
  SandboxSpec,
} from '../types.js'
import { DEFAULT_MAX_FILE_BYTES } from '../types.js'
import { checkAccel, type AccelChoice, type AccelProbe } from './accel.js'
import { MicrovmSandbox, type Released } from './microvm-sandbox.js'
import { isDriveRefusal } from './ext4/index.js'
import { recoverWorkspaceDrive } from './recover.js'
import type { Accel, GuestImage, Hypervisor, VmHandle } from './types.js'

/** How the backend gets at the guest image and the workspace drives (see image/). */
export interface GuestImageSource {
  /** The built image, or undefined when it has not been built. */
  find(signal?: AbortSignal): Promise<GuestImage | undefined>
  /** How to get it (`safe-coder image build --vm`). */
  hint: string
  createDrive(mirrorDir: string, drivePath: string): Promise<void>
  /** Test-boots the image under `accel`; ok only when the guest agent started in time. */
  probeBoot(image: GuestImage, accel: Accel, timeoutMs: number): Promise<AccelProbe>
}

export interface MicrovmBackendOptions {
  hypervisor: Hypervisor
  images: GuestImageSource
  accel: AccelChoice
  vcpus: number
  memMib: number
  /** The workspace drive's size and the key that sets it. */
  disk: { mib: number; key: string }
  /** Boot-to-agent deadline. */
  bootTimeoutMs: number
  /** KVM test-boot deadline. */
  probeTimeoutMs: number
  /** Where each VM's run directory (sockets, drive, console log) goes. */
  runRoot: string
  /** Where the test-boot verdict is cached, so auto-detection boots once, not per command. */
  probeCache: string
}

/** Labels a VM keeps in its run directory; `list`, `remove` and recovery read them back. */
interface VmRecord {
  id: string
  pid: number
  labels: Record<string, string>
  kind: string
  accel: Accel
  /** ISO time (QEMU, Firecracker) or epoch milliseconds. */
  startedAt: string | number
}

const LABEL = {
  session: 'safe-coder.session',
  ownerPid: 'safe-coder.owner-pid',
  ownerHost: 'safe-coder.owner-host',
  path: 'safe-coder.path',
  mirror: 'safe-coder.mirror',
  /** The session's size cap, so a recovery from another process records what a pull would. */
  maxFileBytes: 'safe-coder.max-file-bytes',
} as const

const DRIVE = 'workspace.ext4'

/** Sandboxes as microVMs (QEMU `microvm` or Firecracker), each with its own kernel. */
export class MicrovmBackend implements SandboxBackend {
  readonly kind: 'qemu' | 'firecracker'
  #accel: Promise<ProbeResult> | undefined

  constructor(private readonly options: MicrovmBackendOptions) {
    this.kind = options.hypervisor.kind
  }

  probe(signal?: AbortSignal): Promise<ProbeResult> {
    this.#accel ??= this.#probe(signal)
    return this.#accel
  }

  async create(spec: SandboxSpec, signal?: AbortSignal): Promise<Sandbox> {
    const probe = await this.probe(signal)
    if (!probe.available) {
      throw new SafeCoderError(
        'BACKEND_UNAVAILABLE',
        `The ${this.kind} backend is unavailable: ${probe.reason ?? 'unknown reason'}.`,
        {
          hint: probe.hint,
          data: { backend: this.kind },
        },
      )
    }
    if (spec.network !== undefined && spec.network.policy.mode !== 'none') {
      throw new SafeCoderError(
        'BACKEND_UNAVAILABLE',
        `The ${this.kind} backend has no network: network mode "${spec.network.policy.mode}" needs the Docker backend.`,
        { hint: 'Drop --network/--allow-host, or run this session with --backend docker.' },
      )
    }
    const image = await this.#image(signal)
    const accel = probe.details.accel as Accel
    const id = createId('vm')
    const runDir = await this.#runDir(id)
    const user = spec.user ?? { uid: process.getuid?.() ?? 1000, gid: process.getgid?.() ?? 1000 }
    const progress = spec.onProgress ?? (() => undefined)
    let vm: VmHandle | undefined
    try {
      progress('drive', `building the workspace drive from ${spec.mirrorDir}`)
      await this.options.images.createDrive(spec.mirrorDir, path.join(runDir, DRIVE))
      signal?.throwIfAborted()
      progress('boot', `${this.kind} (${accel}${accel === 'tcg' ? ', software emulation' : ''})`)
      vm = await this.options.hypervisor.launch({
        id,
        runDir,
        image,
        workspaceDrive: path.join(runDir, DRIVE),
        vcpus: this.options.vcpus,
        memMib: this.options.memMib,
        accel,
        labels: {
          [LABEL.session]: spec.sessionId,
          [LABEL.ownerPid]: String(process.pid),
          [LABEL.ownerHost]: os.hostname(),
          [LABEL.path]: spec.projectPath,
          [LABEL.mirror]: spec.mirrorDir,
          [LABEL.maxFileBytes]: String(spec.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES),
        },
        ...(signal === undefined ? {} : { signal }),
      })
      const agent = await this.#connect(vm, signal)
      await agent.mark()
      progress('ready', `guest kernel ${agent.hello.kernel}`)
      return new MicrovmSandbox({
        kind: this.kind,
        vm,
        agent,
        mirrorDir: spec.mirrorDir,
        user,
        env: { HOME: '/tmp', ...spec.env },
        memoryLimitBytes: this.options.memMib * 1024 * 1024,
        disk: await this.diskLimits(),
        maxFileBytes: spec.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
        release: async ({ recover }) =>
          this.#release(runDir, spec.mirrorDir, recover, spec.maxFileBytes),
      })
    } catch (error) {
      await vm?.kill().catch(() => undefined)
      await rm(runDir, { recursive: true, force: true }).catch(() => undefined)
      if (signal?.aborted === true)
        throw new SafeCoderError('ABORTED', 'Starting the microVM was cancelled.')
      throw error
    }
  }

  /** The guest stores its work on its own drive and the rest in its memory: both bounded. */
  diskLimits(): Promise<DiskLimits> {
    const { disk, memMib } = this.options
    return Promise.resolve({
      key: disk.key,
      mib: disk.mib,
      workspace: { enforced: true, how: `/workspace is the VM's own ${disk.mib} MiB ext4 drive` },
      root: {
        enforced: true,
        how: `the root (with /tmp) is a tmpfs overlay in guest memory: at most half its ${memMib} MiB`,
      },
    })
  }

  async list(): Promise<SandboxInfo[]> {
    const found: SandboxInfo[] = []
    for (const record of await this.#records()) {
      const labels = record.labels
      const alive = await isVmAlive(record)
      found.push({
        id: record.id,
        kind: this.kind,
        sessionId: labels[LABEL.session] ?? '',
        ownerPid: Number(labels[LABEL.ownerPid] ?? 0),
        ownerHost: labels[LABEL.ownerHost] ?? '',
        createdAt:
          typeof record.startedAt === 'number' ? record.startedAt : Date.parse(record.startedAt),
        projectPath: labels[LABEL.path] ?? '',
        state: alive ? `running (${record.accel})` : 'stopped (drive kept for recovery)',
      })
    }
    return found
  }

  /** Kills the VM if it runs, recovers its workspace drive into the mirror, frees its files. */
  async remove(id: string): Promise<void> {
    const record = (await this.#records()).find((r) => r.id === id)
    if (record === undefined) return
    if (await isVmAlive(record)) {
      try {
        process.kill(record.pid, 'SIGKILL')
      } catch {
        // Gone between the check and the kill.
      }
    }
    const mirror = record.labels[LABEL.mirror]
    const cap = Number(record.labels[LABEL.maxFileBytes])
    await this.#release(
      path.join(this.options.runRoot, id),
      mirror,
      mirror !== undefined,
      Number.isSafeInteger(cap) && cap > 0 ? cap : undefined,
    )
  }

  async imageStatus(signal?: AbortSignal): Promise<ImageInfo> {
    const image = await this.options.images.find(signal)
    if (image === undefined)
      return { image: 'guest image', present: false, hint: this.options.images.hint }
    const sizes = await Promise.all(
      [image.kernel, image.initrd, image.rootfs].map((f) => stat(f).then((s) => s.size)),
    )
    return {
      image: image.dir,
      present: true,
      id: image.inputs.slice(0, 12),
      sizeBytes: sizes.reduce((a, b) => a + b, 0),
      labels: { kernel: image.kernelRelease },
    }
  }

  async #probe(signal?: AbortSignal): Promise<ProbeResult> {
    const name = this.kind === 'qemu' ? 'QEMU microvm' : 'Firecracker'
    const binary = await this.options.hypervisor.binary()
    const details: Record<string, unknown> = { binary: binary ?? null }
    const unavailable = (reason: string, hint: string): ProbeResult => ({
      kind: this.kind,
      available: false,
      summary: `${name}: unavailable`,
      reason,
      hint,
      details,
    })
    if (binary === undefined) {
      return unavailable(
        `${this.kind === 'qemu' ? 'qemu-system-x86_64' : 'firecracker'} not found on PATH`,
        this.kind === 'qemu'
          ? 'apt-get install qemu-system-x86 (or set [vm] qemu_bin).'
          : 'Install Firecracker from its releases and put it on PATH (or set [vm] firecracker_bin).',
      )
    }
    let image: GuestImage | undefined
    try {
      image = await this.options.images.find(signal)
    } catch (error) {
      const info = toErrorInfo(error)
      return unavailable(info.message, info.hint ?? this.options.images.hint)
    }
    if (image === undefined)
      return unavailable('the guest image is not built', this.options.images.hint)
    details.kernel = image.kernelRelease
    const verdict = await checkAccel({
      kind: this.kind,
      choice: this.options.accel,
      binary,
      image,
      timeoutMs: this.options.probeTimeoutMs,
      cacheFile: this.options.probeCache,
      boot: (accel, timeoutMs) => this.options.images.probeBoot(image, accel, timeoutMs),
    })
    details.accel = verdict.accel ?? null
    details.kvm = verdict.kvm
    if (verdict.accel === undefined) return unavailable(verdict.reason, verdict.hint)
    const softwareEmulation = verdict.accel === 'tcg'
    details.softwareEmulation = softwareEmulation
    return {
      kind: this.kind,
      available: true,
      summary: `${name} (${binary}, ${verdict.accel}${softwareEmulation ? ': software emulation' : ''}, guest kernel ${image.kernelRelease})`,
      ...(softwareEmulation
        ? {
            degraded: `${name} runs under TCG software emulation here: slow, and not hardware isolation (${verdict.reason})`,
          }
        : {}),
      details,
    }
  }

  async #image(signal?: AbortSignal): Promise<GuestImage> {
    const image = await this.options.images.find(signal)
    if (image !== undefined) return image
    throw new SafeCoderError('IMAGE_MISSING', 'The microVM guest image is not built.', {
      hint: this.options.images.hint,
    })
  }

  /** The agent's channel, once its hello arrives; a VM that dies or hangs while booting fails. */
  async #connect(vm: VmHandle, signal?: AbortSignal) {
    const deadline = AbortSignal.timeout(this.options.bootTimeoutMs)
    const both = signal === undefined ? deadline : AbortSignal.any([signal, deadline])
    const died = vm.exited.then(async (exit) => {
      throw new SafeCoderError(
        'SANDBOX_FAILED',
        `The ${this.kind} VM exited while booting (${exit.signal ?? `exit ${exit.code ?? '?'}`}).`,
        {
          hint: 'The guest console is below; rebuild the guest image (safe-coder image build --vm --force) if it is damaged.',
          data: { console: await vm.consoleTail(2000) },
        },
      )
    })
    try {
      const stream = await Promise.race([vm.connectAgent(both), died])
      return await Promise.race([
        connectAgent(stream, { helloTimeoutMs: this.options.bootTimeoutMs }),
        died,
      ])
    } catch (error) {
      if (signal?.aborted === true) throw error
      const info = toErrorInfo(error)
      throw new SafeCoderError(
        'SANDBOX_FAILED',
        `The ${this.kind} guest agent did not come up within ${Math.round(this.options.bootTimeoutMs / 1000)} s: ${info.message}`,
        {
          hint: 'Raise [vm] boot_timeout_s on a slow host; the guest console tail is in the error data.',
          cause: error,
          data: { console: await vm.consoleTail(2000).catch(() => '') },
        },
      )
    } finally {
      died.catch(() => undefined)
    }
  }

  async #runDir(id: string): Promise<string> {
    await mkdir(this.options.runRoot, { recursive: true, mode: 0o700 })
    const dir = path.join(this.options.runRoot, id)
    await mkdir(dir, { mode: 0o700 })
    await chmod(dir, 0o700)
    return dir
  }

  async #records(): Promise<VmRecord[]> {
    const names = await readdir(this.options.runRoot).catch(() => [])
    const records: VmRecord[] = []
    for (const name of names) {
      const text = await readFile(path.join(this.options.runRoot, name, 'vm.json'), 'utf8').catch(
        () => undefined,
      )
      if (text === undefined) continue
      try {
        const record = JSON.parse(text) as VmRecord
        if (record.id === name && typeof record.pid === 'number') records.push(record)
      } catch {
        // A torn record of a VM that never started; remove() of its id still cleans it.
      }
    }
    return records
  }

  /**
   * Recovers the drive's workspace into the mirror when asked, then deletes the run dir. A
   * refused drive goes too: it is only read, so it would be refused again by every later gc
   * and resume.
   */
  async #release(
    runDir: string,
    mirrorDir: string | undefined,
    recover: boolean,
    maxFileBytes = DEFAULT_MAX_FILE_BYTES,
  ): Promise<Released> {
    let released: Released = { changed: [], skipped: [] }
    const drive = path.join(runDir, DRIVE)
    if (recover && mirrorDir !== undefined && (await exists(drive)) && (await exists(mirrorDir))) {
      try {
        const result = await recoverWorkspaceDrive(drive, mirrorDir, maxFileBytes)
        released = { changed: result.changed, skipped: [...result.skipped, ...result.refused] }
      } catch (error) {
        if (isDriveRefusal(error)) await rm(runDir, { recursive: true, force: true })
        throw error
      }
    }
    await rm(runDir, { recursive: true, force: true })
    return released
  }
}

/** The VMM still runs: its pid is alive and is still ours (the pid was not reused). */
async function isVmAlive(record: VmRecord): Promise<boolean> {
  if (record.pid <= 0 || !isProcessAlive(record.pid)) return false
  const cmdline = await readFile(`/proc/${record.pid}/cmdline`, 'utf8').catch(() => undefined)
  return cmdline === undefined || cmdline.includes(record.id)
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  )
}
