import path from 'node:path'
import { SafeCoderError } from '../shared/errors.js'
import { rollBack } from './journal-rollback.js'
import { registeredSyncs, unregisterSync } from './journal-registry.js'
import { readSyncStack } from './journal-stack.js'
import { interruptedJournals, readJournal, type Journal } from './journal.js'
import type { ProjectLock } from './project-lock.js'

/** An interrupted sync that recovery rolled back, and the journals folder it belongs to. */
export interface RecoveredSync {
  id: string
  journalDir: string
}

// Undo is the user's way back: the project returns byte-for-byte to what it was before the sync.
export async function runUndo(options: {
  lock: ProjectLock
  journalDir: string
  id?: string
  onProgress?: (done: number, total: number) => void
}): Promise<{ id: string; restored: string[] }> {
  const { lock, journalDir } = options
  const journal =
    options.id === undefined
      ? await newestSync(journalDir)
      : await readJournal(journalDir, options.id)
  const { record, state } = journal
  if (record.projectDir !== lock.projectDir) {
    throw new SafeCoderError(
      'USAGE',
      `Sync undo refused: sync ${record.id} changed ${record.projectDir}, not ${lock.projectDir}.`,
      { hint: 'Run the undo for the project that sync changed.', data: { id: record.id } },
    )
  }
  if (state === 'prepared' || state === 'rolled-back' || state === 'undone') {
    const why = state === 'prepared' ? 'never changed anything' : `was already ${state}`
    throw new SafeCoderError('USAGE', `Sync undo refused: sync ${record.id} ${why}.`, {
      hint: 'Nothing to restore; `safe-coder sessions` lists what is pending.',
      data: { id: record.id, state },
    })
  }
  return { id: record.id, restored: await rollBack(journal, 'undone', 'Sync undo', options) }
}

/** The top of the undo stack: the newest sync that changed the project and is not undone. */
async function newestSync(journalDir: string): Promise<Journal> {
  const newest = (await readSyncStack(journalDir)).at(-1)
  if (newest === undefined) {
    throw new SafeCoderError('NOT_FOUND', 'Sync undo failed: there is no sync left to undo.', {
      hint: 'Every sync of this session was undone already, or none changed the project.',
      data: { journalDir },
    })
  }
  return newest
}

// A sync killed half-way leaves the project mixed; rolling back is the state the user knew.
/**
 * Rolls back every sync of the project that started changing it and never finished: those the
 * project's shared state registered (any session's) and those in `journalDir`. Newest first.
 */
export async function runRecover(options: {
  lock: ProjectLock
  journalDir: string
}): Promise<RecoveredSync[]> {
  const { lock } = options
  const { interrupted, settled } = await findInterrupted(lock, options.journalDir)
  const recovered: RecoveredSync[] = []
  for (const { sync, journal } of interrupted) {
    await rollBack(journal, 'rolled-back', 'Sync recovery')
    await unregisterSync(lock.stateDir, sync.id)
    recovered.push(sync)
  }
  for (const id of settled) await unregisterSync(lock.stateDir, id)
  return recovered
}

/**
 * Refuses while a sync of the project is left half-way: apply's guard (recovery runs first, so
 * what is still there could not be rolled back), and a dry run's, which changes nothing.
 */
export async function refuseInterrupted(lock: ProjectLock, journalDir: string): Promise<void> {
  const ids = (await findInterrupted(lock, journalDir)).interrupted.map(({ sync }) => sync.id)
  if (ids.length === 0) return
  throw new SafeCoderError(
    'SYNC_CONFLICT',
    `Sync refused: an earlier sync of ${lock.projectDir} (${ids.join(', ')}) was interrupted half-way.`,
    {
      hint: 'Recover it first: `safe-coder sync` (without --dry-run) of any session of the project rolls it back before anything else, restoring the project as it was before it.',
      data: { ids, projectDir: lock.projectDir },
    },
  )
}

/**
 * The project's syncs left half-way (newest first), and registered ones that are not: done,
 * never started, or of a discarded session (nothing to go back to), so only their entry goes.
 */
async function findInterrupted(
  lock: ProjectLock,
  journalDir: string,
): Promise<{ interrupted: { sync: RecoveredSync; journal: Journal }[]; settled: string[] }> {
  const candidates = new Map<string, RecoveredSync>()
  for (const sync of await registeredSyncs(lock.stateDir)) candidates.set(sync.id, sync)
  const registered = new Set(candidates.keys())
  for (const journal of await interruptedJournals(journalDir, lock.projectDir)) {
    candidates.set(journal.record.id, { id: journal.record.id, journalDir })
  }
  const interrupted: { sync: RecoveredSync; journal: Journal }[] = []
  const settled: string[] = []
  for (const sync of [...candidates.values()].sort((a, b) => (a.id < b.id ? 1 : -1))) {
    const journal = await readJournal(sync.journalDir, sync.id).catch(() => undefined)
    if (journal?.state === 'started' && journal.record.projectDir === lock.projectDir)
      interrupted.push({
        sync: { id: sync.id, journalDir: path.resolve(sync.journalDir) },
        journal,
      })
    else if (registered.has(sync.id)) settled.push(sync.id)
  }
  return { interrupted, settled }
}
