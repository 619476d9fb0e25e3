import type { Bus } from '../bus/bus.js'
import type { EventMap } from '../bus/events.js'
import type { Tool } from '../agent/tools/types.js'
import type { ChatModel } from '../agent/types.js'
import type { NetworkPolicy } from '../network/types.js'
import type { SandboxBackend } from '../sandbox/types.js'
import { SafeCoderError } from '../shared/errors.js'
import type { CopyReport } from '../workspace/copy-in.js'
import { AgentSession, type AgentSettings } from './agent-session.js'
import type { SessionStore } from './store.js'
import { createWorkspaceSession, type TrackingOptions } from './workspace-session.js'

export interface SessionManagerOptions {
  /** Egress policy of every session it opens; absent: no network. */
  network?: NetworkPolicy
  store: SessionStore
  bus: Bus<EventMap>
  /** Where new sessions run. */
  backend: SandboxBackend
  /**
   * Where an existing session runs: the backend and engine it recorded (`selectSessionBackend`).
   * Without it, a session reopens on `backend`, which must be that one (`assertPlacement`).
   */
  sessionBackend?: (id: string, signal?: AbortSignal) => Promise<SandboxBackend>
  tracking: TrackingOptions
  /**
   * The tracking options of a new session's project (its own `[workspace] exclude`); it may
   * refuse a project this process cannot run as it asks. Absent: `tracking` for every project.
   */
  projectTracking?: (projectDir: string) => Promise<TrackingOptions>
  /** The model for a new or reopened session (each session may get its own instance). */
  model: () => ChatModel
  tools: Tool[]
  settings: AgentSettings
}

/**
 * The live sessions of this process: creates them (copy-in, commit 0, sandbox), reopens saved
 * ones with their conversation, and closes them all on the way out. Everything they do is
 * reported on the bus.
 */
export class SessionManager {
  readonly #sessions = new Map<string, AgentSession>()

  constructor(private readonly options: SessionManagerOptions) {}

  /** A new session on a copy of `projectDir`; the project itself is only read. */
  async create(
    projectDir: string,
    signal?: AbortSignal,
  ): Promise<{ session: AgentSession; copied: CopyReport }> {
    const { store, backend, bus, projectTracking } = this.options
    const tracking =
      projectTracking === undefined ? this.options.tracking : await projectTracking(projectDir)
    const { record, copied } = await createWorkspaceSession({
      store,
      projectDir,
      backend,
      tracking,
      ...(signal === undefined ? {} : { signal }),
    })
    bus.emit('copy.finished', {
      sessionId: record.id,
      files: copied.files,
      bytes: copied.bytes,
      skipped: copied.skipped,
      durationMs: copied.durationMs,
    })
    bus.emit('session.created', {
      sessionId: record.id,
      projectPath: record.projectPath,
      backend: backend.kind,
      baseCommit: record.baseCommit ?? '',
      files: copied.files,
    })
    return { session: await this.#open(record.id, backend, signal), copied }
  }

  /** A saved session, with its conversation, on its own backend, ready for the next turn. */
  async open(id: string, signal?: AbortSignal): Promise<AgentSession> {
    const existing = this.#sessions.get(id)
    if (existing !== undefined) return existing
    const backend = (await this.options.sessionBackend?.(id, signal)) ?? this.options.backend
    return this.#open(id, backend, signal)
  }

  async #open(id: string, backend: SandboxBackend, signal?: AbortSignal): Promise<AgentSession> {
    const existing = this.#sessions.get(id)
    if (existing !== undefined) return existing
    const { model, sessionBackend: _, ...deps } = this.options
    const session = await AgentSession.open({ ...deps, backend, model: model() }, id, signal)
    this.#sessions.set(id, session)
    return session
  }

  get(id: string): AgentSession {
    const session = this.#sessions.get(id)
    if (session === undefined) {
      throw new SafeCoderError('NOT_FOUND', `Session ${id} is not open in this process.`)
    }
    return session
  }

  list(): AgentSession[] {
    return [...this.#sessions.values()]
  }

  async close(id: string): Promise<void> {
    const session = this.#sessions.get(id)
    if (session === undefined) return
    this.#sessions.delete(id)
    await session.close()
  }

  /** Closes every session (their work stays on disk); failures are collected, not thrown early. */
  async closeAll(): Promise<void> {
    const results = await Promise.allSettled(this.list().map((s) => this.close(s.id)))
    const failed = results.find((r) => r.status === 'rejected')
    if (failed !== undefined) throw failed.reason
  }
}
