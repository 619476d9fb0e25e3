import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { changedPaths, gitSyncSource, headCommit } from '../git/index.js'
import { SafeCoderError } from '../shared/errors.js'
import type { Manifest } from '../shared/manifest.js'
import {
  applySync,
  lockSyncProject,
  planSync,
  readSyncBase,
  readSyncStack,
  recoverSync,
  refuseInterruptedSync,
  undoSync,
  type ProjectLock,
  type SyncPlan,
  type SyncResult,
} from '../workspace/sync.js'
import { isSessionId, projectsDir } from './paths.js'
import type { SessionRecord } from './record.js'
import type { SessionStore } from './store.js'
import { auditRepo, incompleteSession } from './history.js'
import type { TrackingOptions } from './workspace-session.js'

/**
 * Sync-back of a session, for every front end (the `sync` command, the REPL, the dashboard).
 * The caller holds the session's lock. Each function here takes the project's lock (one sync,
 * undo or recovery per project at a time, across processes and sessions) and first rolls back
 * any sync of the project that was killed half-way, whichever session it belonged to.
 */
export interface SessionSyncContext {
  store: SessionStore
  tracking: TrackingOptions
  /** How long to wait for another sync of the same project (ms); default `defaultLockWaitMs`. */
  lockWaitMs?: number
  /** Told once when the project is busy and the wait starts: who holds it. */
  onLockWait?: (holder: string) => void
  /** Told of each interrupted sync rolled back before this one (its session when known). */
  onRecovered?: (sync: { id: string; sessionId?: string }) => void
  /** Test seam: runs after each file an apply writes, with the count so far. */
  afterWrite?: (count: number) => void | Promise<void>
  /** Files an apply or undo has written so far, of `total`; called often (throttle it). */
  onProgress?: (done: number, total: number) => void
}

/** Long enough for another sync of a normal change set to finish; `sync --wait` changes it. */
export const defaultLockWaitMs = 30_000

export interface SyncSelection {
  only?: string[]
  exclude?: string[]
  force?: string[]
  merge?: boolean
}

export interface PlannedSync {
  id: string
  plan: SyncPlan
  head: string
  projectPath: string
}

/** The three-way plan of bringing the session's HEAD into its project; changes nothing. */
export async function planSessionSync(
  ctx: SessionSyncContext,
  id: string,
  selection: SyncSelection = {},
): Promise<PlannedSync> {
  return withProjectLock(ctx, id, 'sync', (_lock, record) => plan(ctx, record, selection))
}

/**
 * Applies a plan (journaled, undoable) and records it in the session. The plan may be older
 * than this lock (the dashboard asks the user in between): every file is checked again.
 */
export async function applySessionSync(
  ctx: SessionSyncContext,
  planned: PlannedSync,
  options: { confirmRisky: boolean },
): Promise<SyncResult> {
  return withProjectLock(ctx, planned.id, 'sync', (lock) => apply(ctx, lock, planned, options))
}

/** Plans and applies under one hold of the project's lock (`safe-coder sync`). */
export async function syncSession(
  ctx: SessionSyncContext,
  id: string,
  selection: SyncSelection,
  options: { confirmRisky: boolean; dryRun?: boolean; onPlan?: (planned: PlannedSync) => void },
): Promise<{ planned: PlannedSync; result?: SyncResult }> {
  const dryRun = options.dryRun === true
  const sync = async (lock: ProjectLock, record: SessionRecord) => {
    const planned = await plan(ctx, record, selection)
    options.onPlan?.(planned)
    return dryRun ? { planned } : { planned, result: await apply(ctx, lock, planned, options) }
  }
  return withProjectLock(ctx, id, dryRun ? 'dry run' : 'sync', sync, { recover: !dryRun })
}

/** Restores the project as it was before the session's newest sync that is not undone yet. */
export async function undoSessionSync(
  ctx: SessionSyncContext,
  id: string,
): Promise<{ restored: string[]; journal: string; projectPath: string }> {
  return withProjectLock(ctx, id, 'undo', async (lock, record) => {
    const journalDir = ctx.store.paths(id).journals
    if ((await readSyncStack(journalDir)).length === 0) {
      throw new SafeCoderError('NOT_FOUND', `Session ${id} has no sync to undo.`, {
        hint: '`safe-coder sessions` shows which sessions were synced; each undo takes back one sync, newest first.',
        data: { sessionId: id },
      })
    }
    const { id: journal, restored } = await undoSync({
      lock,
      journalDir,
      ...(ctx.onProgress === undefined ? {} : { onProgress: ctx.onProgress }),
    })
    // The sync below it on the stack is the last one now.
    const below = (await readSyncStack(journalDir)).at(-1)?.record
    await ctx.store.update(id, (r) => ({
      status: below === undefined && r.status === 'synced' ? 'stopped' : r.status,
      lastSync: below?.id,
      syncedCommit: below?.head,
    }))
    await ctx.store.appendEvent(id, { type: 'sync.undone', journal })
    return { restored, journal, projectPath: record.projectPath }
  })
}

async function withProjectLock<T>(
  ctx: SessionSyncContext,
  id: string,
  what: string,
  work: (lock: ProjectLock, record: SessionRecord) => Promise<T>,
  options: { recover: boolean } = { recover: true },
): Promise<T> {
  const record = await ctx.store.read(id)
  const lock = await lockSyncProject({
    root: projectsDir(ctx.store.stateDir),
    projectDir: record.projectPath,
    holder: `session ${id} (${what})`,
    waitMs: ctx.lockWaitMs ?? defaultLockWaitMs,
    ...(ctx.onLockWait === undefined ? {} : { onWait: ctx.onLockWait }),
  })
  const journalDir = ctx.store.paths(id).journals
  try {
    if (options.recover) {
      for (const sync of await recoverSync({ lock, journalDir })) {
        const owner = path.basename(path.dirname(sync.journalDir))
        ctx.onRecovered?.({ id: sync.id, ...(isSessionId(owner) ? { sessionId: owner } : {}) })
      }
    } else {
      // A dry run changes nothing, not even to roll back a sync left half-way: it refuses.
      await refuseInterruptedSync({ lock, journalDir })
    }
    return await work(lock, await ctx.store.read(id))
  } finally {
    await lock.release()
  }
}

// The merge base is the copy moved on by the session's applied syncs: each sync brings HEAD.
async function plan(
  ctx: SessionSyncContext,
  record: SessionRecord,
  selection: SyncSelection,
): Promise<PlannedSync> {
  const { id } = record
  if (record.baseCommit === undefined) throw incompleteSession(id)
  const paths = ctx.store.paths(id)
  const repo = await auditRepo(ctx.store, id, ctx.tracking.maxFileBytes)
  const head = await headCommit(repo)
  const copy = JSON.parse(await readFile(paths.baseManifest, 'utf8')) as Manifest
  const { base, settled } = await readSyncBase(paths.journals, copy)
  const source = gitSyncSource(repo, head)
  const planned = await planSync({
    projectDir: record.projectPath,
    base,
    source,
    changed: [...(await changedPaths(repo, record.baseCommit, head)), ...settled],
    maxFileBytes: ctx.tracking.maxFileBytes,
    // Blobs are read by id: the copy's and those of earlier syncs are all in the history.
    readBase: (rel, entry) => source.read(rel, entry),
    ...(selection.only === undefined ? {} : { only: selection.only }),
    ...(selection.exclude === undefined ? {} : { exclude: selection.exclude }),
    ...(selection.force === undefined ? {} : { force: selection.force }),
    ...(selection.merge === true ? { merge: true } : {}),
  })
  return { id, plan: planned, head, projectPath: record.projectPath }
}

async function apply(
  ctx: SessionSyncContext,
  lock: ProjectLock,
  planned: PlannedSync,
  options: { confirmRisky: boolean },
): Promise<SyncResult> {
  const { id } = planned
  const repo = await auditRepo(ctx.store, id, ctx.tracking.maxFileBytes)
  const result = await applySync(planned.plan, {
    lock,
    source: gitSyncSource(repo, planned.head),
    journalDir: ctx.store.paths(id).journals,
    confirmRisky: options.confirmRisky,
    head: planned.head,
    ...(ctx.afterWrite === undefined ? {} : { afterWrite: ctx.afterWrite }),
    ...(ctx.onProgress === undefined ? {} : { onProgress: ctx.onProgress }),
  })
  // A sync that wrote nothing is not on the undo stack: the last sync stays what it was.
  if (result.id !== undefined) {
    await ctx.store.update(id, () => ({
      status: 'synced',
      lastSync: result.id,
      syncedCommit: planned.head,
    }))
  }
  await ctx.store.appendEvent(id, {
    type: 'sync',
    journal: result.id,
    applied: result.applied.length,
    conflicts: result.conflicts.length,
  })
  return result
}
