import { lstat, readFile, readlink } from 'node:fs/promises'
import path from 'node:path'
import { SafeCoderError, isSafeCoderError } from '../../shared/errors.js'
import { isUnsafeName } from '../../workspace/path-rules.js'
import { sleep } from '../../shared/abort.js'
import type { AgentClient } from '../agent-channel/types.js'
import { sandboxDiskFull } from '../disk/index.js'
import type {
  BackendKind,
  DirEntry,
  DiskLimits,
  ExecIO,
  ExecRequest,
  ExecResult,
  FileStat,
  ResourceSample,
  Sandbox,
} from '../types.js'
import { FreezeGate } from '../freeze-gate.js'
import { isDriveRefusal } from './ext4/index.js'
import { applyToMirror } from './mirror-apply.js'
import type { VmHandle } from './types.js'

const STATS_INTERVAL_MS = 1000
const SHUTDOWN_TIMEOUT_MS = 10_000

export interface MicrovmSandboxOptions {
  kind: BackendKind
  vm: VmHandle
  agent: AgentClient
  mirrorDir: string
  user: { uid: number; gid: number }
  env: Record<string, string>
  memoryLimitBytes: number
  /** What the guest may store (a full drive inside is said in these terms). */
  disk?: DiskLimits
  /**
   * `[workspace] max_file_mb` in bytes: files up to it are pulled (streamed, any size), larger
   * ones get a sparse stand-in, so the history holds what a container's would.
   */
  maxFileBytes: number
  /** After the VM is gone: recover the workspace from its drive into the mirror, free its files. */
  release: (options: { recover: boolean }) => Promise<Released>
}

/** What a release recovered into the mirror, and what it left in the drive (with why). */
export interface Released {
  changed: string[]
  skipped: { path: string; reason: string }[]
}

/**
 * A session's microVM, driven through its guest agent. The workspace lives on the VM's own
 * drive; `syncOut` pulls what changed into the host mirror after every tool call, so tracking
 * and sync-back are the same code as for containers.
 */
export class MicrovmSandbox implements Sandbox {
  readonly id: string
  readonly kind: BackendKind
  readonly warning: string | undefined
  readonly disk: DiskLimits | undefined
  #disposed: Promise<void> | undefined
  #gone: SafeCoderError | undefined
  /** The host's own mirror work for the guest (pulls, pushes): one at a time, in order. */
  #mirrorQueue: Promise<unknown> = Promise.resolve()
  /**
   * Only the host writes this mirror, so nothing needs freezing: a hold (a commit, a revert)
   * waits for the pull or push under way, and the next one waits for the hold.
   */
  readonly #gate = new FreezeGate({
    freeze: () => Promise.resolve(false),
    thaw: () => Promise.resolve(),
  })
  /** Paths the pulls left in the guest, with why (see `takeSkipped`). */
  readonly #skipped = new Map<string, string>()

  constructor(private readonly options: MicrovmSandboxOptions) {
    this.id = options.vm.id
    this.kind = options.kind
    this.disk = options.disk
    this.warning =
      options.vm.accel === 'tcg' ? 'TCG: software emulation, not hardware isolation' : undefined
    void options.vm.exited.then((exit) => {
      this.#gone ??= new SafeCoderError(
        'SANDBOX_GONE',
        `The microVM ${this.id} stopped (${exit.signal ?? `exit ${exit.code ?? '?'}`}).`,
        {
          hint: 'Its workspace is recovered from the VM drive when the session stops; resume the session to continue.',
          data: { sandboxId: this.id },
        },
      )
      options.agent.close()
    })
  }

  async exec(req: ExecRequest, io: ExecIO = {}): Promise<ExecResult> {
    this.#assertLive()
    const env = { ...this.options.env, ...req.env }
    const result = await this.#call(() =>
      this.options.agent.exec({ ...req, env, user: this.options.user }, io),
    )
    const storage = this.options.vm.storageError?.()
    if (storage !== undefined) {
      // The command saw only EIO; the cause is on the host, and the drive may now be read-only.
      throw new SafeCoderError(
        'DISK_FULL',
        `The microVM ${this.id} could not write its workspace drive: ${storage}.`,
        {
          hint: 'Free space there (df -h shows how much is left), then `safe-coder resume` the session: what the guest wrote before is recovered from the drive.',
        },
      )
    }
    return result
  }

  readFile(
    path: string,
    options: { maxBytes?: number; signal?: AbortSignal } = {},
  ): Promise<Uint8Array> {
    return this.#call(() => this.options.agent.readFile(path, options))
  }

  async writeFile(
    path: string,
    data: string | Uint8Array,
    options: { mode?: number; signal?: AbortSignal } = {},
  ): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data
    await this.#call(() => this.options.agent.writeFile(path, bytes, options)).catch(
      (error: unknown) => {
        throw sandboxDiskFull(error, this.disk)
      },
    )
  }

  stat(path: string, options: { signal?: AbortSignal } = {}): Promise<FileStat> {
    return this.#call(() => this.options.agent.stat(path, options))
  }

  list(path: string, options: { signal?: AbortSignal } = {}): Promise<DirEntry[]> {
    return this.#call(() => this.options.agent.list(path, options))
  }

  /** Pulls what changed in the guest since the last pull into the host mirror. */
  syncOut(): Promise<string[]> {
    return this.#mirrorTurn(async () => {
      this.#assertLive()
      const maxFileBytes = this.options.maxFileBytes
      const set = await this.#call(() => this.options.agent.changes({ maxFileBytes }))
      for (const s of set.skipped) this.#skipped.set(s.path, s.reason)
      const { changed } = await applyToMirror(this.options.mirrorDir, set, (paths, receive) =>
        this.options.agent.pull(paths, receive, { maxFileBytes }),
      )
      return changed
    })
  }

  takeSkipped(): { path: string; reason: string }[] {
    const taken = [...this.#skipped].map(([path, reason]) => ({ path, reason }))
    this.#skipped.clear()
    return taken
  }

  async syncIn(paths: string[]): Promise<void> {
    await this.#mirrorTurn(async () => {
      for (const rel of paths) {
        await this.#call(() => pushPath(this.options.mirrorDir, rel, this.options.agent))
      }
    })
  }

  whileFrozen<T>(work: () => Promise<T>): Promise<T> {
    return this.#gate.frozen(work)
  }

  async *stats(signal: AbortSignal): AsyncIterable<ResourceSample> {
    let previous: { at: number; cpu: number } | undefined
    while (!signal.aborted && this.#gone === undefined) {
      const sample = await this.#sample(previous).catch(() => undefined)
      if (sample === undefined) return
      previous = { at: sample.at, cpu: sample.cpuSeconds }
      yield sample.sample
      await sleep(STATS_INTERVAL_MS, signal).catch(() => undefined)
    }
  }

  dispose(): Promise<void> {
    this.#disposed ??= this.#stop()
    return this.#disposed
  }

  async #sample(
    previous: { at: number; cpu: number } | undefined,
  ): Promise<{ at: number; cpuSeconds: number; sample: ResourceSample }> {
    const [host, guest] = await Promise.all([
      this.options.vm.hostStats(),
      this.options.agent.stats().catch(() => undefined),
    ])
    const at = Date.now()
    const cpuPercent =
      previous === undefined || at <= previous.at
        ? 0
        : ((host.cpuSeconds - previous.cpu) / ((at - previous.at) / 1000)) * 100
    return {
      at,
      cpuSeconds: host.cpuSeconds,
      sample: {
        at,
        cpuPercent: Math.max(0, cpuPercent),
        // The guest's own figure when the agent answers; the VMM's RSS otherwise.
        memoryBytes: guest?.memoryUsedBytes ?? host.rssBytes,
        memoryLimitBytes: guest?.memoryTotalBytes ?? this.options.memoryLimitBytes,
        pids: guest?.pids ?? 0,
        blockReadBytes: 0,
        blockWriteBytes: 0,
        netRxBytes: 0,
        netTxBytes: 0,
      },
    }
  }

  /** Final pull, clean shutdown, then the VMM goes; a dead VM's drive is recovered instead. */
  async #stop(): Promise<void> {
    const { vm, agent } = this.options
    let pulled = false
    if (this.#gone === undefined && !agent.closed) {
      try {
        await this.syncOut()
        pulled = true
        await agent.shutdown(SHUTDOWN_TIMEOUT_MS)
        await Promise.race([vm.exited, sleep(SHUTDOWN_TIMEOUT_MS)])
      } catch {
        // A guest that will not pull or stop cleanly is stopped hard; its drive still has the work.
      }
    }
    agent.close()
    await vm.kill()
    try {
      const released = await this.options.release({ recover: !pulled })
      for (const s of released.skipped) this.#skipped.set(s.path, s.reason)
    } catch (error) {
      // Said where the command's other losses are said, as well as thrown.
      if (isDriveRefusal(error))
        this.#skipped.set(
          '.',
          `nothing was recovered from the dead VM's drive: ${String(error.data?.refused)}`,
        )
      throw error
    }
  }

  // Two pulls (or a pull and a push) at once would race on the same mirror paths, and a pull
  // during a hold could swap a directory for a link under the host's walk or write.
  #mirrorTurn<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#mirrorQueue.then(() => this.#gate.thawed(task))
    this.#mirrorQueue = run.catch(() => undefined)
    return run
  }

  #assertLive(): void {
    if (this.#gone !== undefined) throw this.#gone
  }

  async #call<T>(action: () => Promise<T>): Promise<T> {
    this.#assertLive()
    try {
      return await action()
    } catch (error) {
      // The channel broke because the VM died: say that, not "the agent went away".
      if (isSafeCoderError(error, 'SANDBOX_GONE') || this.options.agent.closed) {
        await Promise.race([this.options.vm.exited, sleep(500)])
        if (this.#gone !== undefined) throw this.#gone
      }
      throw error
    }
  }
}

/**
 * Makes `rel` in the guest what it is in the mirror: a file (content and mode), a symlink, a
 * directory, or nothing. The next pull reports the same content back, which changes nothing.
 */
async function pushPath(mirrorDir: string, rel: string, agent: AgentClient): Promise<void> {
  if (isUnsafeName(rel)) return
  const source = path.join(mirrorDir, ...rel.split('/'))
  const info = await lstat(source).catch(() => undefined)
  const quoted = `'${rel.replace(/'/g, "'\\''")}'`
  const run = async (command: string): Promise<void> => {
    await agent.exec({ command: ['/bin/sh', '-c', command], cwd: '/workspace', timeoutMs: 30_000 })
  }
  if (info === undefined) await run(`rm -rf -- ${quoted}`)
  else if (info.isFile())
    await agent.writeFile(rel, await readFile(source), { mode: info.mode & 0o777 })
  else if (info.isSymbolicLink()) {
    const target = await readlink(source)
    await run(`rm -rf -- ${quoted} && ln -s -- '${target.replace(/'/g, "'\\''")}' ${quoted}`)
  } else if (info.isDirectory()) await run(`mkdir -p -- ${quoted}`)
}
