import type { Bus } from '../bus/bus.js'
import type { EventMap } from '../bus/events.js'
import { linkSignals } from '../shared/abort.js'
import { serveSessionEvents } from './event-server.js'
import { observeSandbox } from './observed-sandbox.js'
import { sandboxNetwork } from './network.js'
import type { NetworkPolicy } from '../network/types.js'
import type { BackendKind, SandboxBackend, ExecIO, ExecResult } from '../sandbox/types.js'
import { NO_SPACE, describeDiskFull } from '../sandbox/index.js'
import { commitChanges, snapshot } from '../git/index.js'
import { auditRepo, incompleteSession } from './history.js'
import { SafeCoderError, isSafeCoderError } from '../shared/errors.js'
import { oneLine } from '../shared/format.js'
import { createId } from '../shared/ids.js'
import { copyIn, type CopyReport } from '../workspace/copy-in.js'
import { writeFileAtomic } from '../shared/durable-file.js'
import {
  otherKindLeft,
  removeSessionSandboxes,
  sandboxLeft,
  startingSandbox,
} from './left-sandboxes.js'
import { acquireSessionLock, type SessionLock } from './lock.js'
import { makeMirrorDisk, openMirror, projectTooLarge, removeSessionDir } from './mirror-disk.js'
import { assertPlacement } from './placement.js'
import type { SessionPaths } from './paths.js'
import type { SessionRecord } from './record.js'
import type { SessionStore } from './store.js'

/** Size cap for files read into the history, from `[workspace] max_file_mb`. */
export interface TrackingOptions {
  maxFileBytes: number
  exclude: string[]
}

export { auditRepo, incompleteSession } from './history.js'

/**
 * A new session for a project: its folder, the copy-in, commit 0 and the base manifest. The
 * project is only read.
 */
export async function createWorkspaceSession(options: {
  store: SessionStore
  projectDir: string
  backend: SandboxBackend
  tracking: TrackingOptions
  signal?: AbortSignal
}): Promise<{ record: SessionRecord; copied: CopyReport }> {
  const { store, projectDir, tracking, signal } = options
  const engine = await options.backend.engine?.(signal)
  let record = await store.create(projectDir, options.backend.kind, engine)
  const paths = store.paths(record.id)
  let copied: CopyReport
  try {
    const disk = await makeMirrorDisk(paths, options.backend, signal)
    copied = await copyIn({
      projectDir,
      mirrorDir: paths.work,
      exclude: tracking.exclude,
      maxFileBytes: tracking.maxFileBytes,
      ...(signal === undefined ? {} : { signal }),
    }).catch((error: unknown) => {
      throw projectTooLarge(error, disk)
    })
    const repo = await auditRepo(store, record.id, tracking.maxFileBytes)
    const snap = await snapshot(repo, {
      message: `snapshot: ${projectDir}`,
      trailers: { Session: record.id },
      ...(signal === undefined ? {} : { signal }),
    })
    await writeFileAtomic(paths.baseManifest, JSON.stringify(snap.manifest))
    record = await store.update(record.id, () => ({ baseCommit: snap.commit, status: 'stopped' }))
  } catch (error) {
    // Before commit 0 a session holds no work, only a partial copy: leave nothing behind.
    await removeSessionDir(paths).catch(() => undefined)
    throw error
  }
  await store.appendEvent(record.id, {
    type: 'session.created',
    project: projectDir,
    commit: record.baseCommit,
    files: copied.files,
  })
  return { record, copied }
}

export interface SessionExecResult {
  result: ExecResult
  /** The commit recording what the command changed; absent when it changed nothing. */
  commit?: { id: string; changed: number }
  /** What the command left in the workspace that the history cannot hold (FIFOs, bad names…). */
  skipped: { path: string; reason: string }[]
  /** The command ran out of space in the sandbox: which limit it met (DISK_FULL, said plainly). */
  diskFull?: string
}

/**
 * Runs one command in a session: lock, a sandbox on the session's mirror, the command, then one
 * commit with everything it changed (also when it failed, timed out or was cancelled, and
 * also when the sandbox died: what reached the mirror is recorded), then the sandbox goes away.
 */
export async function execInSession(options: {
  store: SessionStore
  id: string
  backend: SandboxBackend
  command: string[]
  timeoutMs?: number
  /** The command's stdin, forwarded as it arrives (see ExecRequest.stdin); absent: empty. */
  stdin?: AsyncIterable<Uint8Array>
  tracking: TrackingOptions
  io?: ExecIO
  signal?: AbortSignal
  onProgress?: (step: string, detail?: string) => void
  /** When given, the command is announced on it and served to dashboards while it runs. */
  bus?: Bus<EventMap>
  /** Egress policy; absent: no network. */
  network?: NetworkPolicy
}): Promise<SessionExecResult> {
  const { store, id, signal, bus } = options
  const { record, paths, lock } = await lockSession(store, id, {
    backend: options.backend,
    ...(signal === undefined ? {} : { signal }),
  })
  try {
    // A sandbox a killed process left may still run; it goes (and what it did is recorded)
    // before this command's commit reads the mirror.
    if (record.sandboxId !== undefined) await reclaimSession(options)
  } catch (error) {
    await lock.release()
    throw error
  }
  const aborter = linkSignals(signal)
  const server =
    bus === undefined
      ? undefined
      : await serveSessionEvents({
          socketPath: paths.eventsSocket,
          bus,
          session: {
            id,
            projectPath: record.projectPath,
            backend: options.backend.kind,
            origin: 'remote',
            ownerPid: process.pid,
          },
          onAbort: () => {
            aborter.controller.abort()
          },
        }).catch(() => undefined)
  try {
    bus?.emit('session.status', { sessionId: id, status: 'starting' })
    const created = await startingSandbox(store, id, async () => {
      const network = await sandboxNetwork({ store, id, bus, policy: options.network })
      return options.backend.create(
        {
          sessionId: id,
          mirrorDir: paths.work,
          projectPath: record.projectPath,
          maxFileBytes: options.tracking.maxFileBytes,
          ...(network === undefined ? {} : { network }),
          ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
        },
        signal,
      )
    })
    const sandbox = bus === undefined ? created : observeSandbox(created, id, bus)
    const callId = createId('call')
    const started = Date.now()
    let result: ExecResult | undefined
    let failure: unknown
    try {
      // Inside the try: a record that cannot be written (a full disk) must not leak the sandbox.
      await store.update(id, () => ({
        status: 'active',
        sandboxId: sandbox.id,
        ownerPid: process.pid,
        network: options.network ?? { mode: 'none', allow: [], deny: [] },
      }))
      bus?.emit('session.status', { sessionId: id, status: 'busy' })
      result = await sandbox.exec(
        {
          command: options.command,
          ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
          ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
        },
        { ...options.io, signal: aborter.controller.signal },
      )
    } catch (error) {
      failure = error
    } finally {
      await sandbox.dispose().catch(() => undefined)
    }
    const exit =
      result === undefined
        ? 'sandbox-gone'
        : result.timedOut
          ? 'timeout'
          : result.aborted
            ? 'aborted'
            : String(result.exitCode)
    const repo = await auditRepo(store, id, options.tracking.maxFileBytes)
    // A microVM's pulls report what they left in the guest; a container's mirror walk finds it.
    let skipped: { path: string; reason: string }[] = sandbox.takeSkipped?.() ?? []
    const committed = await commitChanges(repo, {
      onSkipped: (found) => {
        skipped = [...skipped, ...found]
      },
      message: `exec: ${oneLine(options.command.join(' '), 72)}`,
      trailers: { Session: id, Call: callId, Exit: exit, Duration: `${Date.now() - started}ms` },
      scan: true,
    })
    await store.update(id, (r) => ({
      status: 'stopped',
      sandboxId: undefined,
      commits: r.commits + (committed === undefined ? 0 : 1),
    }))
    await store.appendEvent(id, {
      type: 'exec',
      call: callId,
      command: options.command,
      exit,
      commit: committed?.commit ?? null,
    })
    if (committed !== undefined) {
      bus?.emit('git.committed', {
        sessionId: id,
        commit: committed.commit,
        callId,
        message: `exec: ${options.command.join(' ')}`,
        changed: committed.changed,
      })
    }
    bus?.emit('session.status', { sessionId: id, status: 'stopped' })
    if (result === undefined) {
      if (isSafeCoderError(failure) || failure instanceof Error) throw failure
      throw new SafeCoderError('INTERNAL', 'The command produced no result.', { cause: failure })
    }
    const diskFull =
      sandbox.disk !== undefined && NO_SPACE.test(result.stderr)
        ? describeDiskFull(sandbox.disk)
        : undefined
    return {
      result,
      skipped,
      ...(diskFull === undefined ? {} : { diskFull }),
      ...(committed === undefined
        ? {}
        : { commit: { id: committed.commit, changed: committed.changed.length } }),
    }
  } finally {
    aborter.dispose()
    await server?.close().catch(() => undefined)
    await lock.release()
  }
}

/**
 * The part of a resume that needs the session's lock (the caller holds it): removes sandboxes a
 * dead owner left behind and commits what an interrupted command left in the mirror.
 */
export async function reclaimSession(options: {
  store: SessionStore
  id: string
  backend: SandboxBackend
  tracking: TrackingOptions
  signal?: AbortSignal
}): Promise<{ removedSandbox?: string; recovered?: { id: string; changed: number } }> {
  const { store, id, backend, signal } = options
  const record = await store.read(id)
  if (record.sandboxId !== undefined && record.backend !== backend.kind) {
    throw otherKindLeft(record, backend.kind)
  }
  const removedSandbox = await removeSessionSandboxes(backend, id, signal)
  // Only now, with no process of the session left, is the mirror still while it is read.
  const repo = await auditRepo(store, id, options.tracking.maxFileBytes)
  const recovered = await commitChanges(repo, {
    message: 'recovered: changes left by an interrupted command',
    trailers: { Session: id, Call: createId('call'), Exit: 'interrupted' },
    scan: true,
  })
  // Counted here, where it is made: every caller (resume, an agent reopening the session) agrees
  // with the history. No sandbox runs on the mirror any more.
  await store.update(id, (r) => ({
    commits: r.commits + (recovered === undefined ? 0 : 1),
    sandboxId: undefined,
    status: r.status === 'active' ? 'stopped' : r.status,
  }))
  await store.appendEvent(id, {
    type: 'session.resumed',
    removedSandbox: removedSandbox ?? null,
    recovered: recovered?.commit ?? null,
  })
  return {
    ...(removedSandbox === undefined ? {} : { removedSandbox }),
    ...(recovered === undefined
      ? {}
      : { recovered: { id: recovered.commit, changed: recovered.changed.length } }),
  }
}

/**
 * Deletes a session's copy, history and transcript; waits for its lock so no one is using it.
 * A sandbox a dead process left on the session goes first (`backendFor` gives the backend of
 * its kind): a recursive delete with a live process swapping directories for links to host
 * paths could delete host files.
 */
export async function discardSession(
  store: SessionStore,
  id: string,
  backendFor?: (kind: BackendKind) => SandboxBackend,
): Promise<void> {
  const { record, paths, lock } = await lockSession(store, id, { mirror: false })
  try {
    if (record.sandboxId !== undefined) {
      if (backendFor === undefined) throw sandboxLeft(id, record.sandboxId, 'discard')
      await removeSessionSandboxes(backendFor(record.backend), id)
    }
    await removeSessionDir(paths)
  } finally {
    await lock.release().catch(() => undefined)
  }
}

/**
 * A live session, locked for one command; the caller releases the lock. Its mirror is mounted
 * (when it lives on a disk) with room on the host for the disk to fill, unless `mirror: false`.
 * With `backend`, also checks it is the one the session runs on (`assertPlacement`).
 */
export async function lockSession(
  store: SessionStore,
  id: string,
  options: { mirror?: boolean; backend?: SandboxBackend; signal?: AbortSignal } = {},
): Promise<{ record: SessionRecord; paths: SessionPaths; lock: SessionLock }> {
  const record = await store.read(id)
  if (record.status === 'discarded') {
    throw new SafeCoderError('NOT_FOUND', `Session ${id} was discarded.`, {
      hint: 'Start a new session.',
    })
  }
  if (options.backend !== undefined) await assertPlacement(record, options.backend, options.signal)
  const paths = store.paths(id)
  const lock = await acquireSessionLock(paths.lockFile, id)
  if (options.mirror !== false) {
    await openMirror(paths, { checkRoom: true }).catch(async (error: unknown) => {
      await lock.release()
      throw error
    })
  }
  return { record, paths, lock }
}

/**
 * Makes a session usable again after a crash: removes its orphaned sandbox, records what an
 * interrupted command left in the mirror, and proves a new sandbox starts on the mirror.
 */
export async function resumeSession(options: {
  store: SessionStore
  id: string
  backend: SandboxBackend
  tracking: TrackingOptions
  signal?: AbortSignal
}): Promise<{
  removedSandbox?: string
  recovered?: { id: string; changed: number }
  sandboxKind: string
}> {
  const { store, id, backend, signal } = options
  const { record, paths, lock } = await lockSession(store, id, {
    backend,
    ...(signal === undefined ? {} : { signal }),
  })
  try {
    // Killed while copying in: no snapshot was taken, so there is nothing to go on from.
    if (record.baseCommit === undefined) throw incompleteSession(id)
    const { removedSandbox, recovered } = await reclaimSession(options)
    const sandbox = await backend.create(
      {
        sessionId: id,
        mirrorDir: paths.work,
        projectPath: record.projectPath,
        maxFileBytes: options.tracking.maxFileBytes,
      },
      signal,
    )
    try {
      const probe = await sandbox.exec(
        { command: ['true'] },
        signal === undefined ? {} : { signal },
      )
      if (probe.exitCode !== 0) {
        throw new SafeCoderError(
          'SANDBOX_FAILED',
          `A new sandbox for session ${id} started but cannot run commands (exit ${probe.exitCode ?? 'killed'}).`,
        )
      }
    } finally {
      await sandbox.dispose()
    }
    await store.update(id, (r) => ({
      status: r.status === 'synced' && recovered === undefined ? 'synced' : 'stopped',
      sandboxId: undefined,
    }))
    return {
      ...(removedSandbox === undefined ? {} : { removedSandbox }),
      ...(recovered === undefined ? {} : { recovered }),
      sandboxKind: backend.kind,
    }
  } finally {
    await lock.release()
  }
}
