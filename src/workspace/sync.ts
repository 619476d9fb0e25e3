import { realpath, stat } from 'node:fs/promises'
import path from 'node:path'
import { throwIfAborted } from '../shared/abort.js'
import { SafeCoderError, errnoOf } from '../shared/errors.js'
import { runApply } from './sync-apply.js'
import { renderPlan, type RiskConfirmation } from './sync-format.js'
import { buildPlan } from './sync-plan.js'
import { runRecover, runUndo } from './sync-undo.js'
import type { ApplySyncOptions, PlanSyncOptions, SyncPlan, SyncResult } from './sync-types.js'

export type { RiskConfirmation } from './sync-format.js'
export type {
  ApplySyncOptions,
  PlanSyncOptions,
  RiskFlag,
  SyncAction,
  SyncItem,
  SyncPlan,
  SyncResult,
} from './sync-types.js'
export { blobOid } from './blob-oid.js'

// The user decides from the plan; nothing in the project changes while it is made.
/**
 * The per-path three-way decision between the base manifest (the host at copy-in time), the
 * session's HEAD and the host's current files, for every path that differs between base and
 * session (nothing else is read). Host files are seen with lstat only and hashed like git blobs.
 *
 * @throws SafeCoderError NOT_FOUND (no project), USAGE (`merge` without `readBase`),
 * COPY_FAILED (I/O failure, session content not matching its id), ABORTED.
 */
export async function planSync(options: PlanSyncOptions): Promise<SyncPlan> {
  throwIfAborted(options.signal, 'Sync planning')
  if (options.merge === true && options.readBase === undefined) {
    throw new SafeCoderError(
      'USAGE',
      'Sync planning failed: --merge needs the base versions of files.',
      {
        hint: 'Pass readBase (the session store can read base blobs) when merge is requested.',
      },
    )
  }
  return buildPlan(options, await resolveProjectDir(options.projectDir))
}

// The only function that writes into the user's project; everything it writes is journaled first.
/**
 * Applies the writing items of a plan (create, modify, delete, mode; forced and merged ones
 * included) after re-checking that each host file is still what the plan saw: one that changed
 * since becomes a conflict. Writes a journal first (plan, backups), then each file atomically.
 * On failure or abort the project is rolled back before the error is thrown.
 *
 * @throws SafeCoderError USAGE (risky items without `confirmRisky`), SYNC_CONFLICT (an earlier
 * sync of the project was interrupted: recover it first), PATH_REJECTED (the project changed
 * under the sync), COPY_FAILED, ABORTED; `data.rolledBack` tells whether the rollback worked.
 */
export async function applySync(plan: SyncPlan, options: ApplySyncOptions): Promise<SyncResult> {
  const projectDir = await resolveProjectDir(plan.projectDir)
  if (projectDir !== plan.projectDir) {
    throw new SafeCoderError(
      'USAGE',
      `Sync refused: ${plan.projectDir} now resolves to ${projectDir}.`,
      {
        hint: 'The project moved or became a symlink since the plan was made; plan the sync again.',
      },
    )
  }
  return runApply(plan, { ...options, journalDir: path.resolve(options.journalDir) })
}

// `sync --undo`: the host returns byte-for-byte to its state before that sync.
/**
 * Restores every path the sync `id` changed (recreating deleted files with their permissions,
 * removing created files and the directories made for them, restoring symlinks). Setuid and
 * setgid bits are not restored. Refuses, changing nothing, when any of those paths changed since
 * the sync, naming them.
 *
 * @throws SafeCoderError NOT_FOUND (no such sync), USAGE (another project, already undone),
 * SYNC_CONFLICT (files edited since the sync), COPY_FAILED.
 */
export async function undoSync(options: {
  journalDir: string
  id: string
  projectDir: string
}): Promise<{ restored: string[] }> {
  return runUndo({
    ...options,
    journalDir: path.resolve(options.journalDir),
    projectDir: await resolveProjectDir(options.projectDir),
  })
}

// A killed sync must never leave the project half-synced for longer than the next run.
/**
 * Rolls back any sync of `projectDir` that was started and never finished (the process died),
 * restoring the project as it was before it. Idempotent: a second call finds nothing to do.
 *
 * @throws SafeCoderError SYNC_CONFLICT (files edited since the crash), COPY_FAILED.
 */
export async function recoverSync(options: {
  journalDir: string
  projectDir: string
}): Promise<{ recovered?: string; action?: 'rolled-back' | 'completed' }> {
  return runRecover({
    journalDir: path.resolve(options.journalDir),
    projectDir: await resolveProjectDir(options.projectDir),
  })
}

// Dry runs and confirmation prompts show the same text.
/**
 * One line per item (action, path, risk flags, reason) and one per risk saying why, conflicts
 * explained; the last line says how risky changes are confirmed (none when the caller asks).
 */
export function formatPlan(plan: SyncPlan, confirmation: RiskConfirmation): string {
  return renderPlan(plan, confirmation)
}

async function resolveProjectDir(projectDir: string): Promise<string> {
  try {
    const real = await realpath(path.resolve(projectDir))
    if ((await stat(real)).isDirectory()) return real
  } catch (error) {
    const errno = errnoOf(error)
    if (errno === 'ENOENT' || errno === 'ENOTDIR') {
      throw new SafeCoderError('NOT_FOUND', `Sync failed: project ${projectDir} does not exist.`, {
        hint: 'Check the project path recorded for the session.',
        cause: error,
        data: { projectDir },
      })
    }
    throw error
  }
  throw new SafeCoderError('NOT_FOUND', `Sync failed: project ${projectDir} is not a directory.`, {
    hint: 'Check the project path recorded for the session.',
    data: { projectDir },
  })
}

/** The outcome of an applied sync, with how to undo it. */
export function formatSyncResult(
  result: SyncResult,
  projectDir: string,
  sessionId: string,
): string {
  const n = result.applied.length
  return (
    `applied ${n} change${n === 1 ? '' : 's'} to ${projectDir}` +
    (result.conflicts.length > 0
      ? `; ${result.conflicts.length} conflict(s) left untouched (see above; --force PATH or --merge)`
      : '') +
    `\nundo with: safe-coder sync --undo ${sessionId}`
  )
}
