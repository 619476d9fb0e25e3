import path from 'node:path'
import { runTurn, type ToolCallRequest, type TurnEvent } from '../agent/loop.js'
import { systemPrompt } from '../agent/system-prompt.js'
import { runTool } from '../agent/tools/index.js'
import type { Tool, ToolOutcome } from '../agent/tools/types.js'
import type { AgentMessage, ChatModel, Usage } from '../agent/types.js'
import { addUsage, zeroUsage } from '../agent/usage.js'
import type { Bus } from '../bus/bus.js'
import type { EventMap, SessionActivity } from '../bus/events.js'
import { commitChanges, diffCommits } from '../git/index.js'
import type { Sandbox, SandboxBackend } from '../sandbox/types.js'
import { linkSignals } from '../shared/abort.js'
import { asError, isSafeCoderError, SafeCoderError, toErrorInfo } from '../shared/errors.js'
import { oneLine } from '../shared/format.js'
import { createId } from '../shared/ids.js'
import { ApprovalGate, type ApprovalSettings } from './approvals.js'
import type { SessionLock } from './lock.js'
import { serveSessionEvents, type EventServer } from './event-server.js'
import { policyFile, sandboxNetwork, writePolicy } from './network.js'
import type { NetworkPolicy } from '../network/types.js'
import { startingSandbox } from './left-sandboxes.js'
import { observeSandbox } from './observed-sandbox.js'
import type { SessionRecord } from './record.js'
import {
  applySessionSync,
  planSessionSync,
  undoSessionSync,
  type PlannedSync,
  type SyncSelection,
} from './session-sync.js'
import type { SyncResult } from '../workspace/sync.js'
import type { SessionStore } from './store.js'
import { appendTranscript, loadTranscript } from './transcript.js'
import {
  auditRepo,
  lockSession,
  reclaimSession,
  type TrackingOptions,
} from './workspace-session.js'

export interface AgentSettings {
  maxSteps: number
  maxOutputTokens: number
  bashTimeoutMs: number
  toolOutputChars: number
  approval: ApprovalSettings
}

export interface AgentSessionDeps {
  /** Egress policy of the sessions this opens; absent: no network. */
  network?: NetworkPolicy
  store: SessionStore
  bus: Bus<EventMap>
  backend: SandboxBackend
  tracking: TrackingOptions
  model: ChatModel
  tools: Tool[]
  settings: AgentSettings
}

/** What one turn did, for `run`'s summary and the REPL. */
export interface TurnReport {
  turnId: string
  /** The model's final answer. */
  text: string
  steps: number
  toolCalls: number
  /** Commits recorded in this turn, oldest first. */
  commits: string[]
  usage: Usage
}

/**
 * A session the agent works in: its locked folder, one sandbox for its lifetime, the
 * conversation, and a commit for every tool call. One turn at a time; `abort()` cancels the
 * provider stream, the running tool and its sandbox process.
 */
export class AgentSession {
  #sandbox: Sandbox | undefined
  #messages: AgentMessage[]
  #usage: Usage
  #turn: { controller: AbortController; done: Promise<unknown> } | undefined
  #closed = false
  #lastTurn: TurnReport | undefined
  readonly #stats = new AbortController()
  #server: EventServer | undefined
  #network: NetworkPolicy | undefined
  readonly #gate: ApprovalGate

  private constructor(
    private readonly deps: AgentSessionDeps,
    private record: SessionRecord,
    private readonly lock: SessionLock,
    messages: AgentMessage[],
  ) {
    this.#messages = messages
    this.#usage = record.usage ?? zeroUsage
    this.#gate = new ApprovalGate(record.id, deps.settings.approval, deps.bus)
    this.#network = deps.network
  }

  /**
   * Opens a session for the agent: takes its lock (one owner at a time), reclaims what a crash
   * left behind, loads the conversation and starts the sandbox.
   */
  static async open(
    deps: AgentSessionDeps,
    id: string,
    signal?: AbortSignal,
  ): Promise<AgentSession> {
    const { store } = deps
    const { record, lock } = await lockSession(store, id, {
      backend: deps.backend,
      ...(signal === undefined ? {} : { signal }),
    })
    try {
      await reclaimSession({
        store,
        id,
        backend: deps.backend,
        tracking: deps.tracking,
        ...(signal === undefined ? {} : { signal }),
      })
      const messages = await loadTranscript(store.paths(id).transcriptFile)
      const session = new AgentSession(deps, record, lock, messages)
      // Dashboards in other processes may watch; a failure to serve only costs that.
      session.#server = await serveSessionEvents({
        socketPath: store.paths(id).eventsSocket,
        bus: deps.bus,
        session: {
          id,
          projectPath: record.projectPath,
          backend: deps.backend.kind,
          origin: 'remote',
          ownerPid: process.pid,
        },
        onAbort: () => {
          session.abort()
        },
      }).catch(() => undefined)
      try {
        await session.#startSandbox(signal)
      } catch (error) {
        await session.#server?.close()
        throw error
      }
      return session
    } catch (error) {
      await lock.release()
      throw error
    }
  }

  get id(): string {
    return this.record.id
  }

  get projectPath(): string {
    return this.record.projectPath
  }

  get messages(): readonly AgentMessage[] {
    return this.#messages
  }

  get usage(): Usage {
    return this.#usage
  }

  /** What the latest turn did, also when it failed (its commits are in the history either way). */
  get lastTurn(): TurnReport | undefined {
    return this.#lastTurn
  }

  get busy(): boolean {
    return this.#turn !== undefined
  }

  get sandboxKind(): string {
    return this.deps.backend.kind
  }

  /** The host changed these mirror paths (a revert): a running microVM gets them too. */
  async mirrorChanged(paths: string[]): Promise<void> {
    await this.#sandbox?.syncIn?.(paths)
  }

  /**
   * Runs host work on this session's mirror (a revert from the dashboard) while its sandbox
   * cannot change it: background processes live on between tool calls.
   */
  holdMirror<T>(work: () => Promise<T>): Promise<T> {
    const sandbox = this.#sandbox
    return sandbox === undefined ? work() : sandbox.whileFrozen(work)
  }

  /**
   * Runs one turn. Resolves with what it did; rejects with the failure (after recording every
   * tool call it made and emitting `turn.finished`).
   */
  async prompt(text: string, options: { signal?: AbortSignal } = {}): Promise<TurnReport> {
    if (this.#closed) throw new SafeCoderError('USAGE', `Session ${this.id} is closed.`)
    if (this.#turn !== undefined) {
      throw new SafeCoderError('USAGE', `Session ${this.id} is already working on a turn.`, {
        hint: 'Wait for it to finish, or abort it first.',
      })
    }
    const link = linkSignals(options.signal)
    const done = this.#runTurn(text, link.controller.signal).finally(() => {
      link.dispose()
      this.#turn = undefined
    })
    this.#turn = { controller: link.controller, done: done.catch(() => undefined) }
    return done
  }

  /** Cancels the running turn, if any: provider stream, tool and sandbox process. */
  abort(): void {
    this.#turn?.controller.abort(new SafeCoderError('ABORTED', 'The turn was cancelled.'))
  }

  /** The user's answer to an `approval.requested` event. */
  approve(requestId: string, approved: boolean): boolean {
    return this.#gate.resolve(requestId, approved)
  }

  /**
   * Every file the session changed since it was copied in (or, with `sinceSync`, since its last
   * sync-back), with line counts.
   */
  async changes(
    options: { sinceSync?: boolean } = {},
  ): Promise<{ path: string; status: string; added: number; removed: number }[]> {
    const from =
      options.sinceSync === true
        ? (this.record.syncedCommit ?? this.record.baseCommit)
        : this.record.baseCommit
    if (from === undefined) return []
    const repo = await auditRepo(this.deps.store, this.id, this.deps.tracking.maxFileBytes)
    const diffs = await diffCommits(repo, { from, context: 0 })
    return diffs.map(({ path, status, added, removed }) => ({ path, status, added, removed }))
  }

  /** The session's egress policy (mode `none` when it has no network). */
  get network(): NetworkPolicy {
    return this.#network ?? { mode: 'none', allow: [], deny: [] }
  }

  /**
   * Lets the sandbox reach one more host from now on (the proxy re-reads its policy file).
   * Only in allow-list mode: a session without network gets none by surprise.
   */
  async allowHost(host: string, port?: number): Promise<NetworkPolicy> {
    const policy = this.#network
    if (policy?.mode !== 'allowlist') {
      throw new SafeCoderError(
        'USAGE',
        `Session ${this.id} has ${policy?.mode === 'open' ? 'an open network already' : 'no network'}; hosts are allowed only in allow-list mode.`,
        { hint: 'Start the session with --allow-host HOST (or [network] mode = "allowlist").' },
      )
    }
    const entry = port === undefined ? host : `${host}:${port}`
    const next = { ...policy, allow: [...new Set([...policy.allow, entry])] }
    await writePolicy(policyFile(this.deps.store.paths(this.id)), next)
    this.#network = next
    this.record = await this.deps.store.update(this.id, () => ({ network: next }))
    await this.deps.store.appendEvent(this.id, { type: 'net.allow-added', entry })
    return next
  }

  /** The plan of bringing this session's work into its project (the session holds the lock). */
  planSync(selection: SyncSelection = {}): Promise<PlannedSync> {
    return planSessionSync(this.deps, this.id, selection)
  }

  async applySync(planned: PlannedSync, options: { confirmRisky: boolean }): Promise<SyncResult> {
    const result = await applySessionSync(this.deps, planned, options)
    this.record = await this.deps.store.read(this.id)
    return result
  }

  async undoSync(): Promise<{ restored: string[]; journal: string; projectPath: string }> {
    const result = await undoSessionSync(this.deps, this.id)
    this.record = await this.deps.store.read(this.id)
    return result
  }

  /** Ends the session's live part: the turn, the sandbox, the lock. The work stays. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.abort()
    await this.#turn?.done
    this.#stats.abort()
    await this.#server?.close().catch(() => undefined)
    try {
      await this.#sandbox?.dispose()
      this.record = await this.deps.store.update(this.id, (r) => ({
        status: r.status === 'active' ? 'stopped' : r.status,
        sandboxId: undefined,
        usage: this.#usage,
      }))
      this.deps.bus.emit('sandbox.state', {
        sessionId: this.id,
        sandboxId: this.#sandbox?.id ?? '',
        backend: this.deps.backend.kind,
        state: 'stopped',
      })
      this.#status('stopped')
    } finally {
      this.#sandbox = undefined
      await this.lock.release()
    }
  }

  async #startSandbox(signal?: AbortSignal): Promise<Sandbox> {
    const { backend, bus, store } = this.deps
    const paths = store.paths(this.id)
    this.#status('starting', `creating a ${backend.kind} sandbox`)
    bus.emit('sandbox.state', {
      sessionId: this.id,
      sandboxId: '',
      backend: backend.kind,
      state: 'creating',
    })
    const raw = await startingSandbox(store, this.id, async () => {
      const network = await sandboxNetwork({
        store,
        id: this.id,
        bus,
        policy: this.#network,
      })
      return backend.create(
        {
          sessionId: this.id,
          mirrorDir: paths.work,
          projectPath: this.record.projectPath,
          maxFileBytes: this.deps.tracking.maxFileBytes,
          ...(network === undefined ? {} : { network }),
          onProgress: (step, detail) => {
            this.#status('starting', detail === undefined ? step : `${step}: ${detail}`)
          },
        },
        signal,
      )
    })
    const sandbox = observeSandbox(raw, this.id, bus)
    this.#sandbox = sandbox
    this.record = await store.update(this.id, () => ({
      status: 'active',
      sandboxId: raw.id,
      ownerPid: process.pid,
      network: this.#network ?? { mode: 'none', allow: [], deny: [] },
    }))
    bus.emit('sandbox.state', {
      sessionId: this.id,
      sandboxId: raw.id,
      backend: backend.kind,
      state: 'running',
      network: this.#network?.mode ?? 'none',
      ...(raw.warning === undefined ? {} : { warning: raw.warning }),
    })
    void this.#pumpStats(raw)
    this.#status('idle')
    return sandbox
  }

  /**
   * Feeds the gauges until the sandbox stops. A stream that fails (a daemon hiccup under load)
   * is reopened a few times; gauges are best effort, and a sandbox that went away shows up
   * through its next exec.
   */
  async #pumpStats(sandbox: Sandbox): Promise<void> {
    const signal = this.#stats.signal
    let failures = 0
    while (failures < 3 && !signal.aborted) {
      try {
        for await (const sample of sandbox.stats(signal)) {
          failures = 0
          this.deps.bus.emit('sandbox.stats', {
            sessionId: this.id,
            sandboxId: sandbox.id,
            ...sample,
          })
        }
        return
      } catch {
        failures++
        await new Promise((resolve) => setTimeout(resolve, 1_000).unref())
      }
    }
  }

  async #runTurn(text: string, signal: AbortSignal): Promise<TurnReport> {
    const { bus, settings, model } = this.deps
    const turnId = createId('turn')
    const started = Date.now()
    const report: TurnReport = {
      turnId,
      text: '',
      steps: 0,
      toolCalls: 0,
      commits: [],
      usage: zeroUsage,
    }
    this.#lastTurn = report
    let writes: Promise<void> = Promise.resolve()
    const transcript = this.deps.store.paths(this.id).transcriptFile
    const persist = (entry: Parameters<typeof appendTranscript>[1]): void => {
      writes = writes.then(() => appendTranscript(transcript, entry))
    }
    const sandbox = this.#sandbox ?? (await this.#startSandbox(signal))
    this.#status('busy')
    bus.emit('turn.started', { sessionId: this.id, turnId, prompt: text, at: started })
    const user: AgentMessage = { role: 'user', content: text }
    this.#messages.push(user)
    persist({ message: user })

    const onEvent = (event: TurnEvent): void => {
      switch (event.type) {
        case 'text':
          bus.emit('agent.text', { sessionId: this.id, turnId, text: event.text })
          break
        case 'retry':
          bus.emit('agent.retry', { sessionId: this.id, turnId, ...event })
          break
        case 'step':
          report.steps = event.step
          report.usage = addUsage(report.usage, event.usage)
          bus.emit('agent.step', {
            sessionId: this.id,
            turnId,
            step: event.step,
            finishReason: event.finishReason,
            usage: event.usage,
          })
          break
        case 'compacted':
          this.#messages = [...event.result.messages]
          persist({ compacted: this.#messages })
          if (event.result.usage !== undefined)
            report.usage = addUsage(report.usage, event.result.usage)
          bus.emit('agent.compacted', {
            sessionId: this.id,
            stage: event.result.stage,
            beforeTokens: event.result.beforeTokens,
            afterTokens: event.result.afterTokens,
          })
          break
        case 'message':
          this.#messages.push(event.message)
          persist({ message: event.message })
          break
      }
    }

    let failure: unknown
    try {
      const result = await runTurn({
        model,
        tools: this.deps.tools,
        system: systemPrompt({
          projectName: path.basename(this.record.projectPath),
          date: new Date(),
        }),
        messages: [...this.#messages],
        signal,
        maxSteps: settings.maxSteps,
        maxOutputTokens: settings.maxOutputTokens,
        emit: onEvent,
        runTool: (call) => this.#runToolCall(call, turnId, sandbox, signal, report),
      })
      report.text = result.text
    } catch (error) {
      failure =
        signal.aborted && !isSafeCoderError(error, 'ABORTED')
          ? new SafeCoderError('ABORTED', 'The turn was cancelled.', { cause: error })
          : error
      if (isSafeCoderError(failure, 'SANDBOX_GONE')) {
        this.#sandbox = undefined
      }
    }
    await writes
    this.#usage = addUsage(this.#usage, report.usage)
    this.record = await this.deps.store.update(this.id, (r) => ({
      commits: r.commits + report.commits.length,
      usage: this.#usage,
    }))
    bus.emit('turn.finished', {
      sessionId: this.id,
      turnId,
      outcome:
        failure === undefined
          ? 'done'
          : isSafeCoderError(failure, 'ABORTED')
            ? 'aborted'
            : isSafeCoderError(failure, 'STEP_LIMIT')
              ? 'step-limit'
              : 'failed',
      steps: report.steps,
      durationMs: Date.now() - started,
      usage: report.usage,
      sessionUsage: this.#usage,
      ...(failure === undefined ? {} : { error: toErrorInfo(failure) }),
    })
    this.#status(this.#sandbox === undefined ? 'failed' : 'idle')
    if (failure !== undefined) throw asError(failure)
    return report
  }

  /** One tool call: approval, the tool in the sandbox, then its commit. */
  async #runToolCall(
    call: ToolCallRequest,
    turnId: string,
    sandbox: Sandbox,
    signal: AbortSignal,
    report: TurnReport,
  ): Promise<{ output: string; isError: boolean }> {
    const { bus, settings } = this.deps
    const { tool, callId } = call
    const parsed = tool.inputSchema.safeParse(call.input)
    const args = parsed.success ? tool.describe(parsed.data) : JSON.stringify(call.input)
    const started = Date.now()
    report.toolCalls += 1
    bus.emit('tool.started', {
      sessionId: this.id,
      turnId,
      callId,
      tool: tool.name,
      args,
      at: started,
    })
    let outcome: ToolOutcome | undefined
    let failure: unknown
    try {
      const decision = await this.#gate.decide(
        { callId, tool: tool.name, kind: tool.kind, args },
        signal,
      )
      outcome = decision.approved
        ? await runTool(tool, call.input, {
            sandbox,
            signal,
            limits: {
              maxOutputChars: settings.toolOutputChars,
              bashTimeoutMs: settings.bashTimeoutMs,
            },
          })
        : {
            output: `Not run: ${decision.by === 'user' ? 'the user declined this call' : `the approval policy ("${settings.approval.policy}") does not allow ${tool.kind} tools here`}. Do not retry it; continue without it or ask the user.`,
            isError: true,
            changes: { kind: 'none' },
            summary: 'declined',
          }
    } catch (error) {
      failure = error
    }
    // Record the call whatever happened: what reached the mirror is part of the history.
    const durationMs = Date.now() - started
    const commit = await this.#commit(call, args, outcome, failure, durationMs, signal)
    if (commit !== undefined) report.commits.push(commit)
    const summary = outcome?.summary ?? toErrorInfo(failure).message
    bus.emit('tool.finished', {
      sessionId: this.id,
      turnId,
      callId,
      tool: tool.name,
      isError: outcome?.isError ?? true,
      summary,
      durationMs,
      ...(commit === undefined ? {} : { commit }),
    })
    if (outcome === undefined) throw asError(failure)
    return { output: outcome.output, isError: outcome.isError }
  }

  async #commit(
    call: ToolCallRequest,
    args: string,
    outcome: ToolOutcome | undefined,
    failure: unknown,
    durationMs: number,
    signal: AbortSignal,
  ): Promise<string | undefined> {
    const { store, tracking } = this.deps
    const pulled = (await this.#sandbox?.syncOut?.().catch(() => undefined)) ?? []
    const changes = outcome?.changes ?? { kind: 'scan' as const }
    const repo = await auditRepo(store, this.id, tracking.maxFileBytes)
    // Processes the call left running (a dev server, a hostile loop) are frozen while the mirror
    // is read: none can swap a directory for a link to a host path under the walk.
    const result = await this.holdMirror(() =>
      commitChanges(repo, {
        message: `${call.tool.name}: ${oneLine(args.trim(), 72 - call.tool.name.length)}`,
        trailers: {
          Session: this.id,
          Call: call.callId,
          Tool: call.tool.name,
          Status:
            outcome === undefined
              ? `failed (${toErrorInfo(failure).code})`
              : outcome.isError
                ? 'error'
                : 'ok',
          ...(outcome?.exitCode === undefined
            ? {}
            : { Exit: String(outcome.exitCode ?? 'killed') }),
          Duration: `${durationMs}ms`,
        },
        paths: [...(changes.kind === 'paths' ? changes.paths : []), ...pulled],
        scan: changes.kind === 'scan',
        allowEmpty: true,
        // A cancelled turn still records what its last call did.
        ...(signal.aborted ? {} : { signal }),
      }),
    )
    if (result === undefined) return undefined
    this.deps.bus.emit('git.committed', {
      sessionId: this.id,
      commit: result.commit,
      callId: call.callId,
      message: `${call.tool.name}: ${args}`,
      changed: result.changed,
    })
    return result.commit
  }

  #status(status: SessionActivity, detail?: string): void {
    this.deps.bus.emit('session.status', {
      sessionId: this.id,
      status,
      ...(detail === undefined ? {} : { detail }),
    })
  }
}
