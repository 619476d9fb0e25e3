import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { Duplex } from 'node:stream'
import { sleep, throwIfAborted } from '../../../shared/abort.js'
import { SafeCoderError } from '../../../shared/errors.js'
import { findTool } from '../image/tools.js'
import type { Accel, Hypervisor, VmExit, VmHandle, VmHostStats, VmLaunchSpec } from '../types.js'
import { qemuArgs, qemuPaths, tscKhzOfCpuinfo, type QemuPaths } from './argv.js'
import { fileTail, readHostStats } from '../host-stats.js'
import { QmpClient } from './qmp.js'

export const DEFAULT_QEMU_BINARY = 'qemu-system-x86_64'

export interface QemuHypervisorOptions {
  /** Binary name (looked up on PATH) or path; `[vm] qemu_binary` in config. */
  binary?: string
  /**
   * Kill the VMM when the process that launched it dies (`setpriv --pdeathsig KILL`, when
   * setpriv is installed). Default true: a crashed Safe Coder leaves no VM spinning; the
   * workspace drive stays on disk for recovery.
   */
  dieWithParent?: boolean
  /** QEMU's seccomp filter (`-sandbox on,…`). Default true when QEMU supports it. */
  seccomp?: boolean
  /** `-cpu` model (default `host` under KVM, `max` under TCG). */
  cpu?: string
  /** How long `launch` waits for QEMU to finish initialising (its QMP answer). Default 15 s. */
  startTimeoutMs?: number
}

/** `runDir/vm.json`: enough for `list`/`gc` in another process to find and judge the VM. */
export interface QemuVmInfo {
  id: string
  pid: number
  labels: Record<string, string>
  kind: 'qemu'
  accel: Accel
  startedAt: string
  binary: string
  image: string
}

export async function readVmInfo(runDir: string): Promise<QemuVmInfo | undefined> {
  return readFile(qemuPaths(runDir).vmJson, 'utf8')
    .then((text) => JSON.parse(text) as QemuVmInfo)
    .catch(() => undefined)
}

// sun_path is 108 bytes including the NUL.
const MAX_SOCKET_PATH = 107

/** Connects to a unix socket; a path too long for sun_path goes through a short symlink. */
export async function connectUnix(socketPath: string): Promise<net.Socket> {
  let via = socketPath
  let link: string | undefined
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    link = path.join(os.tmpdir(), `sc-${randomBytes(6).toString('hex')}.sock`)
    await symlink(socketPath, link)
    via = link
  }
  try {
    return await new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect(via)
      socket.once('connect', () => {
        socket.removeListener('error', reject)
        resolve(socket)
      })
      socket.once('error', reject)
    })
  } finally {
    if (link !== undefined) await unlink(link).catch(() => undefined)
  }
}

const RETRYABLE = new Set(['ENOENT', 'ECONNREFUSED', 'EAGAIN'])

/** QEMU `-M microvm` as a `Hypervisor`. */
export class QemuHypervisor implements Hypervisor {
  readonly kind = 'qemu' as const
  readonly #options: QemuHypervisorOptions
  #seccomp: Promise<boolean> | undefined

  constructor(options: string | QemuHypervisorOptions = {}) {
    this.#options = typeof options === 'string' ? { binary: options } : options
  }

  binary(): Promise<string | undefined> {
    return findTool(this.#options.binary ?? DEFAULT_QEMU_BINARY)
  }

  async launch(spec: VmLaunchSpec): Promise<QemuVm> {
    const binary = await this.binary()
    if (binary === undefined) {
      throw new SafeCoderError(
        'BACKEND_UNAVAILABLE',
        `${this.#options.binary ?? DEFAULT_QEMU_BINARY} is not installed.`,
        { hint: 'Install QEMU: apt-get install qemu-system-x86' },
      )
    }
    throwIfAborted(spec.signal, `Starting the microVM ${spec.id}`)
    const paths = qemuPaths(spec.runDir)
    await mkdir(spec.runDir, { recursive: true })
    // Sockets of an earlier VM in the same runDir would make the connect below reach nothing.
    for (const stale of [paths.agentSocket, paths.qmpSocket, paths.vmJson])
      await rm(stale, { force: true })

    const tscKhz =
      spec.accel === 'tcg'
        ? tscKhzOfCpuinfo(await readFile('/proc/cpuinfo', 'utf8').catch(() => ''))
        : undefined
    const args = qemuArgs(spec, {
      seccomp: await this.#useSeccomp(binary),
      ...(tscKhz === undefined ? {} : { tscKhz }),
      ...(this.#options.cpu === undefined ? {} : { cpu: this.#options.cpu }),
    })
    let file = binary
    let argv = args
    const setpriv = this.#options.dieWithParent === false ? undefined : await findTool('setpriv')
    if (setpriv !== undefined) {
      file = setpriv
      argv = ['--pdeathsig', 'KILL', '--', binary, ...args]
    }
    const log = await open(paths.vmmLog, 'a')
    let child: ChildProcess
    try {
      await log.write(`--- ${new Date().toISOString()} ${[binary, ...args].join(' ')}\n`)
      child = spawn(file, argv, { cwd: spec.runDir, stdio: ['ignore', log.fd, log.fd] })
    } finally {
      await log.close()
    }
    let spawnError: Error | undefined
    const exited = new Promise<VmExit>((resolve) => {
      child.once('error', (error) => {
        spawnError = error
        resolve({ code: null, signal: null })
      })
      child.once('exit', (code, signal) => {
        resolve({ code, signal })
      })
    })
    const vm = new QemuVm(spec, paths, child, exited)
    try {
      await vm.waitReady(this.#options.startTimeoutMs ?? 15_000, spec.signal)
    } catch (error) {
      await vm.kill()
      if (spawnError !== undefined) {
        throw new SafeCoderError('SANDBOX_FAILED', `Cannot run ${file}: ${spawnError.message}`, {
          cause: spawnError,
        })
      }
      throw error
    }
    const info: QemuVmInfo = {
      id: spec.id,
      pid: vm.pid,
      labels: spec.labels,
      kind: 'qemu',
      accel: spec.accel,
      startedAt: new Date().toISOString(),
      binary,
      image: path.resolve(spec.image.dir),
    }
    try {
      await writeFile(paths.vmJson, `${JSON.stringify(info, null, 2)}\n`)
    } catch (error) {
      await vm.kill()
      throw new SafeCoderError('SANDBOX_FAILED', `Cannot write ${paths.vmJson}.`, { cause: error })
    }
    return vm
  }

  async #useSeccomp(binary: string): Promise<boolean> {
    if (this.#options.seccomp === false) return false
    this.#seccomp ??= new Promise((resolve) => {
      // `-sandbox on` fails at once ("seccomp support is disabled") when QEMU was built without it.
      const probe = spawn(
        binary,
        ['-sandbox', 'on', '-M', 'none', '-display', 'none', '-S', '-qmp', 'stdio'],
        {
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      )
      let out = ''
      probe.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString()
        if (out.includes('"QMP"')) {
          probe.stdin.end('{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n')
        }
      })
      probe.once('error', () => {
        resolve(false)
      })
      probe.once('exit', () => {
        resolve(out.includes('"QMP"'))
      })
      setTimeout(() => probe.kill('SIGKILL'), 5000).unref()
    })
    const supported = await this.#seccomp
    if (!supported && this.#options.seccomp === true) {
      throw new SafeCoderError('SANDBOX_FAILED', `${binary} has no seccomp support (-sandbox).`, {
        hint: 'Use a QEMU built with seccomp, or turn the QEMU seccomp option off.',
      })
    }
    return supported
  }
}

/** A running QEMU microvm. */
export class QemuVm implements VmHandle {
  readonly id: string
  readonly kind = 'qemu' as const
  readonly accel: Accel
  readonly pid: number
  readonly exited: Promise<VmExit>
  readonly paths: QemuPaths
  #child: ChildProcess
  #qmp: QmpClient | undefined
  #exit: VmExit | undefined
  #killing: Promise<void> | undefined
  #storageError: string | undefined

  /** A host-side write failure of the drives QEMU reported (a full disk), if any. */
  storageError(): string | undefined {
    return this.#storageError
  }

  constructor(spec: VmLaunchSpec, paths: QemuPaths, child: ChildProcess, exited: Promise<VmExit>) {
    this.id = spec.id
    this.accel = spec.accel
    this.pid = child.pid ?? -1
    this.paths = paths
    this.#child = child
    this.exited = exited.then((exit) => {
      this.#exit = exit
      this.#qmp?.close()
      return exit
    })
  }

  /** The QMP connection made at launch (status queries, `quit`). */
  get qmp(): QmpClient | undefined {
    return this.#qmp
  }

  /**
   * Resolves once QEMU answers `query-status` on QMP: by then it has parsed its options and
   * opened the kernel and drives, so a bad path or a locked drive has already failed.
   */
  async waitReady(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (this.#exit !== undefined) throw await this.#startFailure()
      throwIfAborted(signal, `Starting the microVM ${this.id}`)
      if (Date.now() > deadline) {
        throw new SafeCoderError(
          'SANDBOX_FAILED',
          `QEMU did not finish starting the microVM ${this.id} within ${Math.round(timeoutMs / 1000)} s.`,
          { hint: `See ${this.paths.vmmLog}.` },
        )
      }
      let qmp: QmpClient | undefined
      try {
        qmp = await QmpClient.connect(this.paths.qmpSocket, 2000)
      } catch {
        // Not listening yet, or QEMU is dying (ECONNRESET): the next round tells which.
        if (this.#hasExited()) throw await this.#startFailure()
      }
      if (qmp !== undefined) {
        this.#qmp = qmp
        // With `werror=report`, a write the host disk has no room for is an event, not a pause.
        qmp.onEvent = (event) => {
          if (event.event === 'BLOCK_IO_ERROR' && event.data?.nospace === true) {
            this.#storageError ??= `no space left on the host disk holding ${path.dirname(this.paths.qmpSocket)}`
          }
        }
        if (this.#hasExited()) qmp.close()
        // QMP answers commands only once QEMU's initialisation is over.
        await Promise.race([qmp.queryStatus().catch(() => this.exited), this.exited])
        if (this.#hasExited()) throw await this.#startFailure()
        return
      }
      await Promise.race([this.exited, sleep(25, signal)]).catch((error: unknown) => {
        throw error instanceof SafeCoderError
          ? new SafeCoderError('ABORTED', `Starting the microVM ${this.id} was cancelled.`, {
              cause: error,
            })
          : error
      })
    }
  }

  // A method, not a field read: the exit is recorded asynchronously, between awaits.
  #hasExited(): boolean {
    return this.#exit !== undefined
  }

  async #startFailure(): Promise<SafeCoderError> {
    const log = await fileTail(this.paths.vmmLog, 4096)
    const lines = log
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('--- '))
      .slice(-4)
    const why = lines.join(' / ') || `exit ${this.#exit?.signal ?? this.#exit?.code ?? '?'}`
    return new SafeCoderError(
      'SANDBOX_FAILED',
      `QEMU failed to start the microVM ${this.id}: ${why}`,
      {
        hint: /kvm/i.test(why)
          ? 'KVM is not usable here: set [vm] accel = "tcg" (software emulation) or use the Docker backend.'
          : `See ${this.paths.vmmLog}.`,
        data: { vmId: this.id },
      },
    )
  }

  async connectAgent(signal?: AbortSignal): Promise<Duplex> {
    for (;;) {
      if (this.#exit !== undefined) {
        throw new SafeCoderError(
          'SANDBOX_GONE',
          `The microVM ${this.id} exited before its agent channel opened.`,
          { hint: `See ${this.paths.consoleLog}.`, data: { sandboxId: this.id } },
        )
      }
      throwIfAborted(signal, `Connecting to the microVM ${this.id}`)
      try {
        return await connectUnix(this.paths.agentSocket)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (code === undefined || !RETRYABLE.has(code)) throw error
      }
      await Promise.race([this.exited, sleep(25, signal)])
    }
  }

  hostStats(): Promise<VmHostStats> {
    if (this.#exit !== undefined || this.pid < 0)
      return Promise.resolve({ cpuSeconds: 0, rssBytes: 0 })
    return readHostStats(this.pid)
  }

  consoleTail(maxBytes = 16 * 1024): Promise<string> {
    return fileTail(this.paths.consoleLog, maxBytes)
  }

  /** Asks QEMU to exit through QMP (`quit`), and kills it if it has not within `timeoutMs`. */
  async quit(timeoutMs = 5000): Promise<void> {
    if (this.#exit === undefined) {
      await this.#qmp?.quit().catch(() => undefined)
      await Promise.race([this.exited, sleep(timeoutMs)])
    }
    await this.kill()
  }

  kill(): Promise<void> {
    this.#killing ??= (async () => {
      if (
        this.#exit === undefined &&
        this.#child.exitCode === null &&
        this.#child.signalCode === null
      ) {
        this.#child.kill('SIGKILL')
      }
      await this.exited
      this.#qmp?.close()
    })()
    return this.#killing
  }
}
