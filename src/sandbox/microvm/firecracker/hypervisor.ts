import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { open, rm, writeFile } from 'node:fs/promises'
import type { Duplex } from 'node:stream'
import { throwIfAborted } from '../../../shared/abort.js'
import { SafeCoderError, errnoOf, isSafeCoderError } from '../../../shared/errors.js'
import { readHostStats } from '../host-stats.js'
import {
  AGENT_VSOCK_PORT,
  type Hypervisor,
  type VmExit,
  type VmHandle,
  type VmHostStats,
  type VmLaunchSpec,
} from '../types.js'
import { FirecrackerApi, waitForApi, type HttpMethod } from './api-client.js'
import {
  firecrackerConfig,
  firecrackerPaths,
  firecrackerRequests,
  sanitizeFirecrackerId,
  type FirecrackerPaths,
} from './config.js'
import { findExecutable } from './probe.js'
import { connectVsock } from './vsock.js'

export interface FirecrackerOptions {
  env?: NodeJS.ProcessEnv
  /**
   * `api` (default): start Firecracker bare and configure it request by request, so a refusal
   * names the one resource Firecracker rejected. `config-file`: hand it the same configuration
   * as one `--config-file` document; it boots at once (one process start, no round trips).
   */
  launchMode?: 'api' | 'config-file'
  /** How long Firecracker may take to open its API socket. Default 10 s. */
  apiTimeoutMs?: number
  /** Deadline of each API request. Default 10 s. */
  requestTimeoutMs?: number
  /** How long `connectAgent` keeps retrying while the guest boots. Default 90 s. */
  agentTimeoutMs?: number
}

/** Unix socket paths are limited to 108 bytes including the terminating NUL (`sun_path`). */
const MAX_SOCKET_PATH_BYTES = 107

/**
 * Firecracker (KVM only): one `firecracker` process per VM, configured over its API socket,
 * the guest's serial console on its stdout (kept in `console.log`), and the guest agent reached
 * over vsock with the `CONNECT <port>` handshake.
 */
export class FirecrackerHypervisor implements Hypervisor {
  readonly kind = 'firecracker' as const
  readonly #binaryName: string
  readonly #options: FirecrackerOptions

  constructor(binary = 'firecracker', options: FirecrackerOptions = {}) {
    this.#binaryName = binary
    this.#options = options
  }

  binary(): Promise<string | undefined> {
    return findExecutable(this.#binaryName, this.#options.env ?? process.env)
  }

  async launch(spec: VmLaunchSpec): Promise<FirecrackerVm> {
    if (spec.accel !== 'kvm') {
      throw new SafeCoderError(
        'BACKEND_UNAVAILABLE',
        `Firecracker runs only under KVM; it cannot run the microVM with accel "${spec.accel}".`,
        {
          hint: 'Use the QEMU backend for software emulation ([vm] accel = "tcg"), or the Docker backend.',
          data: { accel: spec.accel },
        },
      )
    }
    throwIfAborted(spec.signal, 'Starting the microVM')
    const binary = await this.binary()
    if (binary === undefined) {
      throw new SafeCoderError(
        'BACKEND_UNAVAILABLE',
        `The Firecracker binary "${this.#binaryName}" was not found${this.#binaryName.includes('/') ? '' : ' on PATH'}.`,
        {
          hint: 'Install a Firecracker release and put it on PATH, or set [vm] firecracker_bin.',
          data: { binary: this.#binaryName },
        },
      )
    }
    const paths = firecrackerPaths(spec.runDir)
    checkSocketPath(paths.apiSocket)
    checkSocketPath(paths.vsockSocket)
    const mode = this.#options.launchMode ?? 'api'
    // Built before anything starts: a bad size fails here, with no process to clean up.
    const requests = firecrackerRequests(spec, paths)
    const config = firecrackerConfig(spec, paths)

    const args = ['--api-sock', paths.apiSocket, '--id', sanitizeFirecrackerId(spec.id)]
    let child: ChildProcess
    try {
      // Firecracker binds both sockets itself and refuses paths that exist (stale from a crash).
      await rm(paths.apiSocket, { force: true })
      await rm(paths.vsockSocket, { force: true })
      // The logger opens an existing file (or a named pipe); it does not create one.
      await writeFile(paths.vmmLog, '', { flag: 'a' })
      if (mode === 'config-file') {
        await writeFile(paths.configFile, `${JSON.stringify(config, null, 2)}\n`)
        args.push('--config-file', paths.configFile)
      }
      child = spawnVmm(binary, args, paths, this.#options.env ?? process.env)
    } catch (error) {
      throw new SafeCoderError(
        'SANDBOX_FAILED',
        `Could not prepare the VM directory ${paths.runDir}: ${error instanceof Error ? error.message : String(error)}`,
        {
          hint: 'The VM directory must exist and be writable.',
          cause: error,
          data: { runDir: paths.runDir },
        },
      )
    }
    const vm = new FirecrackerVm(spec, child, paths, this.#options)
    try {
      if (child.pid === undefined) {
        const exit = await vm.exited
        throw new SafeCoderError(
          'SANDBOX_FAILED',
          `Could not start ${binary}: ${vm.spawnError?.message ?? describeExit(exit)}.`,
          {
            hint: 'Check that [vm] firecracker_bin is an executable Firecracker binary.',
            data: { binary },
          },
        )
      }
      await writeFile(
        paths.vmJson,
        `${JSON.stringify(
          {
            id: spec.id,
            pid: child.pid,
            labels: spec.labels,
            kind: 'firecracker',
            accel: 'kvm',
            startedAt: new Date().toISOString(),
            firecrackerId: sanitizeFirecrackerId(spec.id),
            apiSocket: paths.apiSocket,
            vsockSocket: paths.vsockSocket,
          },
          null,
          2,
        )}\n`,
      )
      const info = await waitForApi(vm.api, {
        timeoutMs: this.#options.apiTimeoutMs ?? 10_000,
        gone: () => vm.goneReason(),
        signal: spec.signal,
      })
      if (mode === 'api') {
        for (const request of requests) {
          await vm.api.call(request.method, request.path, request.body, spec.signal)
        }
      } else if (instanceState(info) !== 'Running') {
        await waitForRunning(vm, this.#options.apiTimeoutMs ?? 10_000, spec.signal)
      }
    } catch (error) {
      await vm.kill()
      throw await withVmContext(error, vm)
    }
    return vm
  }
}

/** A running Firecracker process and its guest. */
export class FirecrackerVm implements VmHandle {
  readonly id: string
  readonly kind = 'firecracker' as const
  readonly accel = 'kvm' as const
  readonly pid: number
  readonly exited: Promise<VmExit>
  readonly paths: FirecrackerPaths
  readonly api: FirecrackerApi
  #exit: VmExit | undefined
  #spawnError: Error | undefined
  readonly #child: ChildProcess
  readonly #agentTimeoutMs: number

  constructor(
    spec: VmLaunchSpec,
    child: ChildProcess,
    paths: FirecrackerPaths,
    options: FirecrackerOptions,
  ) {
    this.id = spec.id
    this.pid = child.pid ?? -1
    this.paths = paths
    this.#child = child
    this.#agentTimeoutMs = options.agentTimeoutMs ?? 90_000
    this.api = new FirecrackerApi(paths.apiSocket, {
      ...(options.requestTimeoutMs === undefined ? {} : { timeoutMs: options.requestTimeoutMs }),
      hint: (method, path) => refusalHint(method, path, spec, paths),
    })
    this.exited = new Promise<VmExit>((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal }
        resolve(this.#exit)
      })
      child.on('error', (error) => {
        // Only a failed spawn ends here with no 'exit' to follow.
        if (child.pid !== undefined) return
        this.#spawnError = error
        this.#exit = { code: null, signal: null }
        resolve(this.#exit)
      })
    })
  }

  /** Why the VMM is gone ("exit 1", "SIGKILL"), or undefined while it runs. */
  goneReason(): string | undefined {
    return this.#exit === undefined ? undefined : describeExit(this.#exit)
  }

  get spawnError(): Error | undefined {
    return this.#spawnError
  }

  connectAgent(signal?: AbortSignal): Promise<Duplex> {
    return connectVsock(this.paths.vsockSocket, AGENT_VSOCK_PORT, {
      ...(signal === undefined ? {} : { signal }),
      timeoutMs: this.#agentTimeoutMs,
      gone: () => this.goneReason(),
    })
  }

  hostStats(): Promise<VmHostStats> {
    if (this.#exit !== undefined) {
      return Promise.reject(
        new SafeCoderError('SANDBOX_GONE', `The microVM ${this.id} has stopped.`, {
          data: { sandboxId: this.id },
        }),
      )
    }
    return readHostStats(this.pid)
  }

  consoleTail(maxBytes = 16 * 1024): Promise<string> {
    return tailFile(this.paths.consoleLog, maxBytes)
  }

  /**
   * Asks the guest to shut down (`SendCtrlAltDel`: on x86 the guest reboots, and with
   * `reboot=k` that makes Firecracker exit), and kills the VMM when it is not gone in time.
   */
  async shutdown(timeoutMs = 5000): Promise<VmExit> {
    if (this.#exit === undefined) {
      try {
        await this.api.put('/actions', { action_type: 'SendCtrlAltDel' })
      } catch {
        // Older guests or a wedged VMM: the kill below still ends it.
      }
      let timer: NodeJS.Timeout | undefined
      const timedOut = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => {
          resolve(undefined)
        }, timeoutMs)
      })
      const exit = await Promise.race([this.exited, timedOut])
      clearTimeout(timer)
      if (exit !== undefined) return exit
    }
    await this.kill()
    return this.exited
  }

  async kill(): Promise<void> {
    if (this.#exit === undefined && this.pid > 0) {
      try {
        process.kill(this.pid, 'SIGKILL')
      } catch (error) {
        if (errnoOf(error) !== 'ESRCH') throw error
      }
    }
    await this.exited
    this.#child.stdin?.destroy()
  }
}

/**
 * Starts the VMM with its console (stdout and stderr) going straight into console.log, so it
 * keeps logging if this process dies. Its stdin (the serial input) is a pipe that is never
 * written: a terminal would be switched to raw mode, and /dev/null cannot be polled.
 * Synchronous on purpose: the caller attaches the 'exit' listener before any I/O callback can
 * run, so even a VMM that dies at once is seen exiting.
 */
function spawnVmm(
  binary: string,
  args: string[],
  paths: FirecrackerPaths,
  env: NodeJS.ProcessEnv,
): ChildProcess {
  const consoleFd = openSync(paths.consoleLog, 'a')
  try {
    const child = spawn(binary, args, {
      cwd: paths.runDir,
      env,
      stdio: ['pipe', consoleFd, consoleFd],
      // Its own process group: a Ctrl-C at the terminal reaches the session, which decides
      // when the VM stops; an orphan is found again through vm.json.
      detached: true,
    })
    child.stdin?.on('error', () => undefined)
    return child
  } finally {
    closeSync(consoleFd)
  }
}

async function waitForRunning(
  vm: FirecrackerVm,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    throwIfAborted(signal, 'Starting the microVM')
    const info = await vm.api.get('/', signal)
    if (instanceState(info) === 'Running') return
    const gone = vm.goneReason()
    if (gone !== undefined || Date.now() > deadline) {
      throw new SafeCoderError(
        'SANDBOX_FAILED',
        `Firecracker did not start the VM from its --config-file (state: ${instanceState(info) ?? 'unknown'}${gone === undefined ? '' : `, ${gone}`}).`,
        { hint: 'Firecracker prints why in the console log of the VM directory.' },
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function instanceState(info: unknown): string | undefined {
  if (typeof info !== 'object' || info === null) return undefined
  const state = (info as Record<string, unknown>).state
  return typeof state === 'string' ? state : undefined
}

function refusalHint(
  _method: HttpMethod,
  path: string,
  spec: VmLaunchSpec,
  paths: FirecrackerPaths,
): string {
  if (path === '/drives/rootfs')
    return `Check that the guest root filesystem ${spec.image.rootfs} exists and is readable; \`safe-coder image build\` rebuilds it.`
  if (path === '/drives/workspace')
    return `Check that the workspace drive ${spec.workspaceDrive} exists and is readable and writable.`
  if (path === '/boot-source')
    return `Check that the guest kernel ${spec.image.kernel} and initrd ${spec.image.initrd} exist and are readable; \`safe-coder image build\` rebuilds them.`
  if (path === '/machine-config') return 'Check [vm] vcpu_count and mem_size_mib.'
  if (path === '/vsock')
    return `Firecracker must be able to create its vsock socket ${paths.vsockSocket}.`
  if (path === '/logger') return `Firecracker must be able to write its log ${paths.vmmLog}.`
  if (path === '/actions')
    return `Firecracker could not start the guest; its log ${paths.vmmLog} says more. KVM may not work on this host (\`safe-coder doctor\`).`
  return `Firecracker's log ${paths.vmmLog} may say more; \`safe-coder doctor\` shows its version.`
}

/** Adds what the VM printed (console and VMM log tails, exit status) to a launch failure. */
async function withVmContext(thrown: unknown, vm: FirecrackerVm): Promise<unknown> {
  const error = isSafeCoderError(thrown)
    ? thrown
    : new SafeCoderError(
        'SANDBOX_FAILED',
        `Starting Firecracker failed: ${thrown instanceof Error ? thrown.message : String(thrown)}`,
        { cause: thrown },
      )
  if (error.code === 'ABORTED') return error
  const [consoleTail, vmmLog] = await Promise.all([
    vm.consoleTail(4096).catch(() => ''),
    tailFile(vm.paths.vmmLog, 4096).catch(() => ''),
  ])
  const data: Record<string, unknown> = { ...error.data, runDir: vm.paths.runDir }
  if (consoleTail.trim() !== '') data.console = consoleTail
  if (vmmLog.trim() !== '') data.vmmLog = vmmLog
  const gone = vm.goneReason()
  if (gone !== undefined) data.exit = gone
  // The last line Firecracker printed usually says why it exited before its API came up.
  const said = lastLine(consoleTail)
  const message =
    error.message.startsWith('Firecracker exited before its API came up') && said !== undefined
      ? `${error.message.replace(/\.$/, '')}: ${said}`
      : error.message
  return new SafeCoderError(error.code, message, {
    ...(error.hint === undefined ? {} : { hint: error.hint }),
    data,
    cause: error,
  })
}

function lastLine(text: string): string | undefined {
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
  return lines.at(-1)
}

async function tailFile(file: string, maxBytes: number): Promise<string> {
  const handle = await open(file, 'r').catch((error: unknown) => {
    if (errnoOf(error) === 'ENOENT') return undefined
    throw error
  })
  if (handle === undefined) return ''
  try {
    const { size } = await handle.stat()
    const length = Math.min(size, Math.max(0, maxBytes))
    const buffer = Buffer.alloc(length)
    await handle.read(buffer, 0, length, size - length)
    // A cut at the start may split a UTF-8 sequence; drop the broken character.
    return buffer.toString('utf8').replace(/^\uFFFD+/, '')
  } finally {
    await handle.close()
  }
}

function checkSocketPath(socketPath: string): void {
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    throw new SafeCoderError(
      'SANDBOX_FAILED',
      `The VM socket path ${socketPath} is longer than the ${MAX_SOCKET_PATH_BYTES} bytes a unix socket path may have.`,
      {
        hint: 'Use a shorter runtime directory (XDG_RUNTIME_DIR or the [vm] image/run directories).',
        data: { socketPath },
      },
    )
  }
}

function describeExit(exit: VmExit): string {
  if (exit.signal !== null) return exit.signal
  return `exit ${exit.code ?? '?'}`
}
