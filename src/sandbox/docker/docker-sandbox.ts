import type Docker from 'dockerode'
import { sleep } from '../../shared/abort.js'
import { createId } from '../../shared/ids.js'
import { SafeCoderError } from '../../shared/errors.js'
import { isStdinStream } from '../stdin-source.js'
import { toWorkspacePath } from '../workspace-path.js'
import { NO_SPACE, diskFullError, sandboxDiskFull } from '../disk/index.js'
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
import type { AgentClient } from '../agent-channel/types.js'
import { FreezeGate } from '../freeze-gate.js'
import type { ContainerAgent } from './container-agent.js'
import { sandboxError, startUnpaused } from './engine-errors.js'
import { DEFAULT_MAX_OUTPUT, runEngineExec, type ExecStarter, type RawExecResult } from './exec.js'
import { FILE_STATUS, LIST_SCRIPT, READ_SCRIPT, STAT_SCRIPT, WRITE_SCRIPT } from './file-scripts.js'
import { parseListing, parseStat } from './file-parse.js'
import { sampleStats } from './cgroup-stats.js'
import { containerFreezer } from './freeze.js'

const DEFAULT_MAX_READ = 64 * 1024 * 1024

/** A running container that holds one session's workspace. */
export class DockerSandbox implements Sandbox {
  readonly id: string
  private disposed: Promise<void> | undefined
  /** Host work on the mirror pauses the container; execs start only while it is not paused. */
  private readonly gate: FreezeGate
  private readonly starter: ExecStarter

  constructor(
    readonly kind: BackendKind,
    private readonly container: Docker.Container,
    private readonly user: string,
    private readonly env: Record<string, string>,
    /** Removes what the sandbox needed besides its container (its networks and proxy). */
    private readonly release: () => Promise<void> = () => Promise.resolve(),
    /** The in-container agent, for images that can run it; Engine-API exec otherwise. */
    private readonly agent?: ContainerAgent,
    /** What the container may store (a full disk inside is said in these terms). */
    readonly disk?: DiskLimits,
  ) {
    this.id = container.id
    this.gate = new FreezeGate(containerFreezer(container, kind === 'podman' ? 'podman' : 'docker'))
    this.starter = (start) => this.gate.thawed(() => startUnpaused(start))
  }

  async exec(req: ExecRequest, io: ExecIO = {}): Promise<ExecResult> {
    const argv = typeof req.command === 'string' ? ['/bin/sh', '-c', req.command] : req.command
    if (argv.length === 0) throw new SafeCoderError('USAGE', 'Cannot run an empty command.')
    const agent = await this.agentClient()
    if (agent !== undefined) return this.agentExec(agent, { ...req, command: argv }, io)
    const raw = await runEngineExec(
      this.container,
      {
        execId: createId('exec'),
        argv,
        cwd: toWorkspacePath(req.cwd ?? '.'),
        env: { ...this.env, ...req.env },
        user: this.user,
        stdin:
          req.stdin === undefined || isStdinStream(req.stdin) ? req.stdin : Buffer.from(req.stdin),
        timeoutMs: req.timeoutMs,
        maxOutputBytes: req.maxOutputBytes ?? DEFAULT_MAX_OUTPUT,
      },
      io,
      this.starter,
    )
    return { ...raw, stdout: raw.stdout.toString('utf8'), stderr: raw.stderr.toString('utf8') }
  }

  async readFile(
    path: string,
    options: { maxBytes?: number; signal?: AbortSignal } = {},
  ): Promise<Uint8Array> {
    const target = toWorkspacePath(path)
    const max = options.maxBytes ?? DEFAULT_MAX_READ
    const viaAgent = await this.viaAgent((agent) =>
      agent.readFile(target, { ...options, maxBytes: max }),
    )
    if (viaAgent !== undefined) return viaAgent.value
    const result = await this.script(
      READ_SCRIPT,
      [target, String(max)],
      options.signal,
      undefined,
      max,
    )
    this.check(result, 'read', path)
    return result.stdout
  }

  async writeFile(
    path: string,
    data: string | Uint8Array,
    options: { mode?: number; signal?: AbortSignal } = {},
  ): Promise<void> {
    const target = toWorkspacePath(path)
    if (target === '/workspace') throw this.fileError(FILE_STATUS.wrongKind, 'write', path)
    const bytes = Buffer.from(data)
    const viaAgent = await this.viaAgent((agent) => agent.writeFile(target, bytes, options))
    if (viaAgent !== undefined) return
    const mode = options.mode === undefined ? '' : (options.mode & 0o7777 & ~0o6000).toString(8)
    const result = await this.script(WRITE_SCRIPT, [target, mode], options.signal, bytes)
    this.check(result, 'write', path)
  }

  async stat(path: string, options: { signal?: AbortSignal } = {}): Promise<FileStat> {
    const target = toWorkspacePath(path)
    const viaAgent = await this.viaAgent((agent) => agent.stat(target, options))
    if (viaAgent !== undefined) return { ...viaAgent.value, path: target }
    const result = await this.script(STAT_SCRIPT, [target], options.signal)
    this.check(result, 'stat', path)
    return parseStat(target, result.stdout.toString('utf8'))
  }

  async list(path: string, options: { signal?: AbortSignal } = {}): Promise<DirEntry[]> {
    const target = toWorkspacePath(path)
    const viaAgent = await this.viaAgent((agent) => agent.list(target, options))
    if (viaAgent !== undefined) return viaAgent.value
    const result = await this.script(LIST_SCRIPT, [target], options.signal)
    this.check(result, 'list', path)
    return parseListing(result.stdout)
  }

  stats(signal: AbortSignal): AsyncIterable<ResourceSample> {
    return sampleStats(this.container, signal)
  }

  whileFrozen<T>(work: () => Promise<T>): Promise<T> {
    return this.gate.frozen(work)
  }

  dispose(): Promise<void> {
    this.disposed ??= this.removeAll()
    return this.disposed
  }

  private async removeAll(): Promise<void> {
    this.agent?.close()
    let failure: SafeCoderError | undefined
    try {
      await this.container.remove({ force: true, v: true })
    } catch (error) {
      // Already gone is the state we wanted.
      const gone = sandboxError(this.id, 'removing the container', error)
      if (gone.code !== 'SANDBOX_GONE') failure = gone
    }
    // The networks go even when the container would not: they are no use without it.
    try {
      await this.release()
    } catch (error) {
      failure ??= sandboxError(this.id, 'removing its network', error)
    }
    if (failure !== undefined) throw failure
  }

  /**
   * One exec through the agent. A command that kills the agent (`pkill node`) loses its result,
   * not the sandbox: while the container runs, that is reported as a killed command.
   */
  private async agentExec(agent: AgentClient, req: ExecRequest, io: ExecIO): Promise<ExecResult> {
    const started = performance.now()
    try {
      return await agent.exec(
        {
          ...req,
          cwd: toWorkspacePath(req.cwd ?? '.'),
          env: { ...this.env, ...req.env },
          maxOutputBytes: req.maxOutputBytes ?? DEFAULT_MAX_OUTPUT,
        },
        io,
      )
    } catch (error) {
      if (!agent.closed) throw error
      await this.assertRunning(error)
      return {
        exitCode: null,
        stdout: '',
        stderr:
          'safe-coder: the sandbox agent stopped while this command ran (did the command kill it?); its output is lost.\n',
        durationMs: performance.now() - started,
        timedOut: false,
        aborted: io.signal?.aborted === true,
        truncatedBytes: 0,
      }
    }
  }

  /**
   * A file operation through the agent: undefined when there is none (or it stopped mid-way and
   * the container still runs), so the caller falls back to an Engine-API script.
   */
  private async viaAgent<T>(
    op: (agent: AgentClient) => Promise<T>,
  ): Promise<{ value: T } | undefined> {
    const agent = await this.agentClient()
    if (agent === undefined) return undefined
    try {
      return { value: await op(agent) }
    } catch (error) {
      if (!agent.closed) throw sandboxDiskFull(error, this.disk)
      await this.assertRunning(error)
      return undefined
    }
  }

  /** The agent, started (an exec) only while the container is not frozen. */
  private agentClient(): Promise<AgentClient | undefined> {
    const agent = this.agent
    return agent === undefined ? Promise.resolve(undefined) : this.gate.thawed(() => agent.get())
  }

  /**
   * SANDBOX_GONE when the container is no longer running; otherwise returns. The agent's channel
   * closes before the engine records a killed container as stopped, so a running state is
   * re-checked for a moment before it is believed.
   */
  private async assertRunning(cause: unknown): Promise<void> {
    let running = true
    for (let attempt = 0; attempt < 8 && running; attempt++) {
      if (attempt > 0) await sleep(50)
      try {
        const state = (await this.container.inspect()).State
        running = state.Running && !state.Restarting
      } catch (error) {
        throw sandboxError(this.id, 'checking the container', error)
      }
    }
    if (!running) {
      throw sandboxError(
        this.id,
        'running a command',
        Object.assign(new Error('the container stopped'), { statusCode: 409, cause }),
      )
    }
  }

  private script(
    script: string,
    args: string[],
    signal: AbortSignal | undefined,
    stdin?: Buffer,
    maxOutputBytes = 16 * 1024 * 1024,
  ): Promise<RawExecResult> {
    return runEngineExec(
      this.container,
      {
        execId: createId('file'),
        argv: ['/bin/sh', '-c', script, 'safe-coder-file', ...args],
        cwd: '/workspace',
        env: this.env,
        user: this.user,
        stdin,
        timeoutMs: 60_000,
        maxOutputBytes,
      },
      signal === undefined ? {} : { signal },
      this.starter,
    )
  }

  private check(result: RawExecResult, op: string, path: string): void {
    if (result.aborted)
      throw new SafeCoderError('ABORTED', `${op} of ${JSON.stringify(path)} was cancelled.`)
    if (result.exitCode === 0) return
    const detail = result.stderr.toString('utf8').trim()
    if (NO_SPACE.test(detail)) {
      const what = `Cannot ${op} ${JSON.stringify(path)} in the sandbox`
      const full = diskFullError(what, 'ENOSPC', { path, sandboxId: this.id })
      throw sandboxDiskFull(full, this.disk)
    }
    throw this.fileError(result.exitCode, op, path, detail)
  }

  private fileError(status: number | null, op: string, path: string, detail = ''): SafeCoderError {
    const what = `Cannot ${op} ${JSON.stringify(path)} in the sandbox`
    const data = { path, sandboxId: this.id }
    switch (status) {
      case FILE_STATUS.outside:
        return new SafeCoderError(
          'PATH_REJECTED',
          `${what}: it resolves to a place outside /workspace.`,
          {
            hint: 'A symlink on the path leads out of the workspace; use a path inside it.',
            data,
          },
        )
      case FILE_STATUS.missing:
        return new SafeCoderError('NOT_FOUND', `${what}: no such file or directory.`, { data })
      case FILE_STATUS.wrongKind:
        return new SafeCoderError(
          'PATH_REJECTED',
          `${what}: ${op === 'list' ? 'not a directory' : 'not a regular file'}.`,
          {
            data,
          },
        )
      default:
        return new SafeCoderError(
          'SANDBOX_FAILED',
          `${what}${detail === '' ? '' : `: ${detail}`} (exit ${status ?? 'killed'}).`,
          {
            data,
          },
        )
    }
  }
}
