import { incompleteSession } from './workspace-session.js'
import { readFile } from 'node:fs/promises'
import { changedPaths, gitSyncSource, headCommit } from '../git/index.js'
import type { Manifest } from '../shared/manifest.js'
import { SafeCoderError } from '../shared/errors.js'
import {
  applySync,
  planSync,
  recoverSync,
  undoSync,
  type SyncPlan,
  type SyncResult,
} from '../workspace/sync.js'
import type { SessionStore } from './store.js'
import { auditRepo, type TrackingOptions } from './workspace-session.js'

/**
 * Sync-back of a session, for every front end (the `sync` command, the REPL, the dashboard).
 * The caller holds the session's lock.
 */
export interface SessionSyncContext {
  store: SessionStore
  tracking: TrackingOptions
}

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

/** Finishes or rolls back a sync that was killed half-way, before anything else runs. */
export async function recoverSessionSync(
  ctx: SessionSyncContext,
  id: string,
): Promise<{ recovered?: string; action?: 'completed' | 'rolled-back' }> {
  const record = await ctx.store.read(id)
  const result = await recoverSync({
    journalDir: ctx.store.paths(id).journals,
    projectDir: record.projectPath,
  })
  return result
}

/** The three-way plan of bringing the session's HEAD into its project; changes nothing. */
export async function planSessionSync(
  ctx: SessionSyncContext,
  id: string,
  selection: SyncSelection = {},
): Promise<PlannedSync> {
  const record = await ctx.store.read(id)
  const paths = ctx.store.paths(id)
  if (record.baseCommit === undefined) {
    throw incompleteSession(id)
  }
  const repo = await auditRepo(ctx.store, id, ctx.tracking.maxFileBytes)
  const head = await headCommit(repo)
  const base = JSON.parse(await readFile(paths.baseManifest, 'utf8')) as Manifest
  const baseSource = gitSyncSource(repo, record.baseCommit)
  const plan = await planSync({
    projectDir: record.projectPath,
    base,
    source: gitSyncSource(repo, head),
    changed: await changedPaths(repo, record.baseCommit, head),
    maxFileBytes: ctx.tracking.maxFileBytes,
    readBase: (path, entry) => baseSource.read(path, entry),
    ...(selection.only === undefined ? {} : { only: selection.only }),
    ...(selection.exclude === undefined ? {} : { exclude: selection.exclude }),
    ...(selection.force === undefined ? {} : { force: selection.force }),
    ...(selection.merge === true ? { merge: true } : {}),
  })
  return { id, plan, head, projectPath: record.projectPath }
}

/** Applies a plan (journaled, undoable) and records it in the session. */
export async function applySessionSync(
  ctx: SessionSyncContext,
  planned: PlannedSync,
  options: { confirmRisky: boolean },
): Promise<SyncResult> {
  const { id } = planned
  const repo = await auditRepo(ctx.store, id, ctx.tracking.maxFileBytes)
  const result = await applySync(planned.plan, {
    source: gitSyncSource(repo, planned.head),
    journalDir: ctx.store.paths(id).journals,
    confirmRisky: options.confirmRisky,
  })
  await ctx.store.update(id, () => ({
    status: 'synced',
    lastSync: result.id,
    syncedCommit: planned.head,
  }))
  await ctx.store.appendEvent(id, {
    type: 'sync',
    journal: result.id,
    applied: result.applied.length,
    conflicts: result.conflicts.length,
  })
  return result
}

/** Restores the project as it was before the session's last sync. */
export async function undoSessionSync(
  ctx: SessionSyncContext,
  id: string,
): Promise<{ restored: string[]; journal: string; projectPath: string }> {
  const record = await ctx.store.read(id)
  const journal = record.lastSync
  if (journal === undefined) {
    throw new SafeCoderError('NOT_FOUND', `Session ${id} has no sync to undo.`, {
      hint: '`safe-coder sessions` shows which sessions were synced.',
    })
  }
  const { restored } = await undoSync({
    journalDir: ctx.store.paths(id).journals,
    id: journal,
    projectDir: record.projectPath,
  })
  await ctx.store.update(id, () => ({
    status: 'stopped',
    lastSync: undefined,
    syncedCommit: undefined,
  }))
  await ctx.store.appendEvent(id, { type: 'sync.undone', journal })
  return { restored, journal, projectPath: record.projectPath }
}
