import { realpath, stat } from 'node:fs/promises'
import path from 'node:path'
import { throwIfAborted } from '../shared/abort.js'
import { SafeCoderError, errnoOf } from '../shared/errors.js'
import { runApply } from './sync-apply.js'
import { renderPlan, type RiskConfirmation } from './sync-format.js'
import { buildPlan } from './sync-plan.js'
import { lockProject, type LockProjectOptions, type ProjectLock } from './project-lock.js'
import { refuseInterrupted, runRecover, runUndo, type RecoveredSync } from './sync-undo.js'
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
export { readSyncBase, readSyncStack, type SyncBase } from './journal-stack.js'
export type { ProjectLock } from './project-lock.js'
export type { RecoveredSync } from './sync-undo.js'

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
 * since becomes a conflict. Writes a journal first (plan, backups), registers it with the
 * project, then writes each file atomically and removes the folders its deletions emptied. On
 * failure or abort the project is rolled back before the error is thrown. A plan that writes
 * nothing leaves no journal (`id` absent), so it never hides the last sync from undo.
 *
 * @throws SafeCoderError USAGE (risky items without `confirmRisky`, a lock not held or of
 * another project), SYNC_CONFLICT (an earlier sync of the project was interrupted and could not
 * be recovered), PATH_REJECTED (the project changed under the sync), COPY_FAILED, ABORTED;
 * `data.rolledBack` tells whether the rollback worked.
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
  assertHeld(options.lock, projectDir)
  return runApply(plan, { ...options, journalDir: path.resolve(options.journalDir) })
}

// `sync --undo`: the host returns byte-for-byte to its state before that sync.
/**
 * Undoes the newest sync of the session whose journals are in `journalDir` (or the sync `id`),
 * restoring every path it changed (recreating deleted files with their permissions and the
 * folders it removed, removing created files and the directories made for them, restoring
 * symlinks). Setuid and setgid bits are not restored. Refuses, changing nothing, when any of
 * those paths changed since the sync, naming them.
 *
 * @throws SafeCoderError NOT_FOUND (no such sync, or none left), USAGE (another project,
 * already undone), SYNC_CONFLICT (files edited since the sync), COPY_FAILED.
 */
export async function undoSync(options: {
  lock: ProjectLock
  journalDir: string
  id?: string
  /** Files restored so far, of `total`; called often (the caller throttles). */
  onProgress?: (done: number, total: number) => void
}): Promise<{ id: string; restored: string[] }> {
  assertHeld(options.lock, options.lock.projectDir)
  return runUndo({ ...options, journalDir: path.resolve(options.journalDir) })
}

// A killed sync must never leave the project half-synced for longer than the next run.
/**
 * Rolls back every sync of the lock's project that was started and never finished (the process
 * died): those any session registered with the project, and those in `journalDir`, restoring the
 * project as it was before each. Idempotent: a second call finds nothing to do.
 *
 * @throws SafeCoderError SYNC_CONFLICT (files edited since the crash), COPY_FAILED.
 */
export async function recoverSync(options: {
  lock: ProjectLock
  journalDir: string
}): Promise<RecoveredSync[]> {
  assertHeld(options.lock, options.lock.projectDir)
  return runRecover({ ...options, journalDir: path.resolve(options.journalDir) })
}

/**
 * Refuses, changing nothing, while a sync of the lock's project is left half-way (for a dry
 * run, which must not roll it back).
 *
 * @throws SafeCoderError SYNC_CONFLICT naming the interrupted syncs.
 */
export async function refuseInterruptedSync(options: {
  lock: ProjectLock
  journalDir: string
}): Promise<void> {
  assertHeld(options.lock, options.lock.projectDir)
  await refuseInterrupted(options.lock, path.resolve(options.journalDir))
}

/**
 * Takes the lock of a project (by its real path) for a sync, an undo or a recovery: one at a
 * time per project, across processes, waiting up to `waitMs` for another holder.
 *
 * @throws SafeCoderError NOT_FOUND (no project), SYNC_CONFLICT (`data.busy`), COPY_FAILED, ABORTED.
 */
export async function lockSyncProject(
  options: Omit<LockProjectOptions, 'projectDir'> & { projectDir: string },
): Promise<ProjectLock> {
  return lockProject({ ...options, projectDir: await resolveProjectDir(options.projectDir) })
}

function assertHeld(lock: ProjectLock, projectDir: string): void {
  if (!lock.held || lock.projectDir !== projectDir) {
    throw new SafeCoderError(
      'USAGE',
      `Sync refused: the lock of ${projectDir} is not held (${lock.held ? `it is ${lock.projectDir}'s` : 'it was released'}).`,
      { hint: 'Take the project lock with lockSyncProject() before syncing.' },
    )
  }
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

/** The outcome of an applied sync, with how to undo it when it changed something. */
export function formatSyncResult(
  result: SyncResult,
  projectDir: string,
  sessionId: string,
): string {
  const n = result.applied.length
  const marked = markedFiles(result)
  const lines = [
    (n === 0
      ? `nothing to apply to ${projectDir}`
      : `applied ${n} change${n === 1 ? '' : 's'} to ${projectDir}`) +
      (result.conflicts.length > 0
        ? `; ${result.conflicts.length} conflict(s) left untouched (see above; --force PATH or --merge)`
        : ''),
  ]
  if (marked.length > 0)
    lines.push(
      `conflict markers written in ${marked.join(', ')}: resolve them, then remove the markers`,
    )
  if (result.id !== undefined) lines.push(`undo with: safe-coder sync --undo ${sessionId}`)
  return lines.join('\n')
}

/** Files `--merge` wrote with conflict markers: conflicts that remain, in the project. */
export function markedFiles(result: SyncResult): string[] {
  return result.applied.filter((item) => (item.merge?.conflicts ?? 0) > 0).map((item) => item.path)
}
