import type { Bus } from '../bus/bus.js'
import type { EventMap } from '../bus/events.js'
import { SafeCoderError } from '../shared/errors.js'
import { formatPlan, formatSyncResult } from '../workspace/sync.js'
import type { AgentSession } from './agent-session.js'
import type {
  FileDiffView,
  RevertTarget,
  SessionClient,
  SessionSummary,
  SyncPlanView,
  SyncResultView,
  TimelineCommit,
} from './client.js'
import { acquireSessionLock } from './lock.js'
import type { SessionManager } from './manager.js'
import { monitorSessions, type RemoteSession } from './monitor.js'
import { revertInSession, sessionDiff, sessionTimeline, unsyncedCount } from './review.js'
import {
  applySessionSync,
  planSessionSync,
  undoSessionSync,
  type PlannedSync,
  type SessionSyncContext,
} from './session-sync.js'
import type { SessionStore } from './store.js'
import { discardSession, type TrackingOptions } from './workspace-session.js'

/**
 * The dashboard's SessionClient in this process: its own sessions through the SessionManager,
 * and sessions of other Safe Coder processes found through their event sockets. A remote
 * session can be watched and aborted; review reads its history directly; revert and sync take
 * its lock, so they work only while its owner is not running a command in it.
 */
export class LocalSessionClient implements SessionClient {
  readonly #remote = new Map<string, RemoteSession>()
  readonly #plans = new Map<string, PlannedSync>()
  readonly #ctx: SessionSyncContext

  constructor(
    private readonly options: {
      manager: SessionManager
      store: SessionStore
      tracking: TrackingOptions
      bus: Bus<EventMap>
      /** Watch other processes' sessions until this fires. */
      monitor?: AbortSignal
    },
  ) {
    this.#ctx = { store: options.store, tracking: options.tracking }
    if (options.monitor !== undefined) {
      monitorSessions({
        store: options.store,
        bus: options.bus,
        isLocal: (id) => this.#local(id) !== undefined,
        signal: options.monitor,
        onFound: (remote) => {
          this.#remote.set(remote.summary.id, remote)
          options.bus.emit('session.created', {
            sessionId: remote.summary.id,
            origin: 'remote',
            projectPath: remote.summary.projectPath,
            backend: remote.summary.backend,
            baseCommit: '',
            files: 0,
          })
        },
        onLost: () => undefined,
      })
    }
  }

  list(): SessionSummary[] {
    const local = this.options.manager.list().map((s): SessionSummary => ({
      id: s.id,
      projectPath: s.projectPath,
      backend: s.sandboxKind,
      origin: 'local',
      ownerPid: process.pid,
    }))
    return [...local, ...[...this.#remote.values()].map((r) => r.summary)]
  }

  async create(projectPath: string): Promise<string> {
    const { session } = await this.options.manager.create(projectPath)
    return session.id
  }

  async close(id: string, choice: 'keep' | 'sync' | 'discard'): Promise<void> {
    const session = this.#own(id, 'close')
    if (choice === 'sync') {
      const planned = await session.planSync()
      await session.applySync(planned, { confirmRisky: true })
    }
    await this.options.manager.close(id)
    if (choice === 'discard') await discardSession(this.options.store, id)
  }

  async prompt(id: string, text: string): Promise<void> {
    await this.#own(id, 'prompt').prompt(text)
  }

  abort(id: string): void {
    const local = this.#local(id)
    if (local !== undefined) local.abort()
    else this.#remote.get(id)?.abort()
  }

  approve(id: string, requestId: string, approved: boolean): void {
    this.#local(id)?.approve(requestId, approved)
  }

  timeline(id: string): Promise<TimelineCommit[]> {
    return sessionTimeline(this.#ctx, id)
  }

  diff(id: string, commit?: string): Promise<FileDiffView[]> {
    return sessionDiff(this.#ctx, id, commit)
  }

  unsynced(id: string): Promise<number> {
    return unsyncedCount(this.#ctx, id)
  }

  async revert(id: string, target: RevertTarget): Promise<{ commit: string }> {
    const local = this.#local(id)
    // Our own live session: its sandbox is frozen while the revert writes into the mirror.
    const hold = local === undefined ? undefined : local.holdMirror.bind(local)
    const result = await this.#locked(id, () => revertInSession(this.#ctx, id, target, hold))
    await local?.mirrorChanged(result.changed)
    this.options.bus.emit('git.committed', {
      sessionId: id,
      commit: result.commit,
      callId: 'revert',
      message: `revert ${target.commit.slice(0, 12)}`,
      changed: result.changed.map((path) => ({ path, status: 'modified' })),
    })
    return { commit: result.commit }
  }

  async planSync(id: string, options: { exclude: string[] }): Promise<SyncPlanView> {
    const planned = await this.#locked(id, () =>
      planSessionSync(
        this.#ctx,
        id,
        options.exclude.length > 0 ? { exclude: options.exclude } : {},
      ),
    )
    this.#plans.set(id, planned)
    const { plan } = planned
    return {
      projectPath: planned.projectPath,
      items: plan.items.map((i) => ({
        path: i.path,
        action: i.action,
        risks: i.risky,
        ...(i.riskReasons === undefined ? {} : { riskReasons: i.riskReasons }),
        reason: i.reason,
      })),
      conflicts: plan.conflicts,
      risky: plan.risky,
      // The dashboard asks before applying; the plan does not point at --yes.
      text: formatPlan(plan, 'asked'),
    }
  }

  async applySync(id: string): Promise<SyncResultView> {
    const planned = this.#plans.get(id)
    if (planned === undefined) {
      throw new SafeCoderError('USAGE', `No sync plan for session ${id}; make one first.`)
    }
    this.#plans.delete(id)
    const result = await this.#locked(id, () =>
      applySessionSync(this.#ctx, planned, { confirmRisky: true }),
    )
    return {
      applied: result.applied.length,
      conflicts: result.conflicts.map((c) => c.path),
      ...(result.id === undefined ? {} : { journal: result.id }),
      text: formatSyncResult(result, planned.projectPath, id),
    }
  }

  async undoSync(id: string): Promise<{ restored: number }> {
    const result = await this.#locked(id, () => undoSessionSync(this.#ctx, id))
    return { restored: result.restored.length }
  }

  async allowHost(id: string, host: string, port: number): Promise<void> {
    await this.#own(id, 'allow hosts in').allowHost(host, port)
  }

  #local(id: string): AgentSession | undefined {
    return this.options.manager.list().find((s) => s.id === id)
  }

  #own(id: string, what: string): AgentSession {
    const local = this.#local(id)
    if (local !== undefined) return local
    const remote = this.#remote.get(id)
    throw new SafeCoderError(
      'USAGE',
      remote === undefined
        ? `Session ${id} is not open here.`
        : `Session ${id} belongs to safe-coder process ${remote.summary.ownerPid}; ${what} it there.`,
    )
  }

  /** Runs `work` holding the session's lock: ours already, or taken for a remote session. */
  async #locked<T>(id: string, work: () => Promise<T>): Promise<T> {
    if (this.#local(id) !== undefined) return work()
    const lock = await acquireSessionLock(this.options.store.paths(id).lockFile, id)
    try {
      return await work()
    } finally {
      await lock.release()
    }
  }
}
