import { rm } from 'node:fs/promises'
import path from 'node:path'
import { eachLimit } from '../git/each-limit.js'
import { throwIfAborted } from '../shared/abort.js'
import { SafeCoderError, errnoOf, isSafeCoderError, toErrorInfo } from '../shared/errors.js'
import { createId } from '../shared/ids.js'
import { symlinkMode } from './blob-oid.js'
import { displayPath } from './copy-errors.js'
import { rollBack } from './journal-rollback.js'
import { registerSync, unregisterSync } from './journal-registry.js'
import { readSyncStack } from './journal-stack.js'
import {
  createJournalDir,
  markJournal,
  writeRecord,
  type Journal,
  type JournalRecord,
} from './journal.js'
import type { ProjectLock } from './project-lock.js'
import { readSessionBytes, STREAM_ABOVE_BYTES, streamSessionBytes } from './sync-decide.js'
import { emptiedDirs, removeEmptied } from './sync-dirs.js'
import { syncFailed } from './sync-errors.js'
import { order, prepare, refuseUnconfirmed, type Prepared } from './sync-prepare.js'
import { createParentChecker, nameProblem, symlinkTargetProblem } from './sync-paths.js'
import { refuseInterrupted } from './sync-undo.js'
import type { ApplySyncOptions, SyncItem, SyncPlan, SyncResult } from './sync-types.js'
import { fileConcurrency, writingActions } from './sync-types.js'
import {
  makeDir,
  removeEntry,
  replaceWithFile,
  replaceWithSymlink,
  syncDir,
  tempPathFor,
} from './sync-write.js'

// Journal first, then change: whatever happens after the journal is marked started can be undone.
export async function runApply(plan: SyncPlan, options: ApplySyncOptions): Promise<SyncResult> {
  const { projectDir } = plan
  const { signal, lock } = options
  throwIfAborted(signal, 'Sync')
  await refuseInterrupted(lock, options.journalDir)
  const writing = plan.items.filter((item) => writingActions.has(item.action))
  refuseUnconfirmed(writing, options.confirmRisky)
  const conflicts = plan.items.filter((item) => item.action === 'conflict')
  // Nothing to write: no journal, so the undo stack keeps the last sync that changed something.
  if (writing.length === 0) return { applied: [], conflicts, merged: [] }
  const id = createId('sync')
  const dir = await createJournalDir(options.journalDir, id)
  const prepared: Prepared[] = []
  // Deleted before anything is written: below them a directory is made anew (never followed).
  const deleted = new Set(writing.filter((item) => item.action === 'delete').map((i) => i.path))
  const parents = createParentChecker(projectDir, deleted)
  const createdDirs = new Set<string>()
  const ordered = order(writing)
  // Each item is checked and backed up on its own: they overlap, and keep the plan's order.
  const outcomes: (Prepared | string)[] = []
  await eachLimit([...ordered.keys()], fileConcurrency, async (index) => {
    throwIfAborted(signal, 'Sync')
    const item = ordered[index] as SyncItem
    const parent = await parents.problem(item.path)
    outcomes[index] =
      parent === undefined
        ? await prepare(projectDir, dir, item, index, deleted)
        : `refused at apply time: ${parent}`
    if (typeof outcomes[index] !== 'string' && item.action !== 'delete')
      for (const missing of await parents.missing(item.path)) createdDirs.add(missing)
  })
  for (const [index, item] of ordered.entries()) {
    const ready = outcomes[index] as Prepared | string
    if (typeof ready === 'string') conflicts.push({ ...item, action: 'conflict', reason: ready })
    else prepared.push(ready)
  }
  if (prepared.length === 0) {
    await rm(dir, { recursive: true, force: true })
    return { applied: [], conflicts, merged: [] }
  }
  const stack = await readSyncStack(options.journalDir)
  const record: JournalRecord = {
    version: 1,
    id,
    projectDir,
    createdAt: new Date().toISOString(),
    changes: prepared.map((ready) => ready.change),
    createdDirs: [...createdDirs].sort((a, b) => a.split('/').length - b.split('/').length),
    removedDirs: await emptiedDirs(
      projectDir,
      prepared.map((ready) => ready.item),
    ),
    seq: (stack.at(-1)?.record.seq ?? stack.length) + 1,
    ...(options.head === undefined ? {} : { head: options.head }),
    settled: settledBy(prepared, plan.items),
  }
  await writeRecord(dir, record)
  await registerSync(lock.stateDir, { id, journalDir: options.journalDir })
  await markJournal(dir, 'started')
  const journal: Journal = { dir, record, state: 'started' }
  try {
    await applyAll(journal, prepared, options)
  } catch (error) {
    throw await rollBackAfter(journal, error, lock)
  }
  await markJournal(dir, 'done')
  await unregisterSync(lock.stateDir, id)
  return {
    id,
    applied: prepared.map((ready) => ready.item),
    conflicts,
    merged: prepared
      .filter((ready) => ready.item.merge !== undefined)
      .map((ready) => ready.item.path),
  }
}

/**
 * The merge base each path has after this sync: the session's version of what it wrote (also
 * of a merge: the host's side of it counts as a host change from then on) and of what the host
 * already had. Conflicts and skipped paths keep their old base.
 */
function settledBy(prepared: Prepared[], items: SyncItem[]): NonNullable<JournalRecord['settled']> {
  const settled = [...prepared.map((ready) => ready.item), ...items.filter(isNoop)]
  return settled.map((item) => ({ path: item.path, entry: item.session ?? null }))
}

function isNoop(item: SyncItem): boolean {
  return item.action === 'noop-same'
}

async function applyAll(
  journal: Journal,
  prepared: Prepared[],
  options: ApplySyncOptions,
): Promise<void> {
  const { projectDir, removedDirs = [] } = journal.record
  const touched = new Set<string>()
  const indexed = prepared.map((ready, index) => ({ ready, index }))
  const deletions = indexed.filter(({ ready }) => ready.item.action === 'delete')
  const writes = indexed.filter(({ ready }) => ready.item.action !== 'delete')
  let count = 0
  const applyOne = async ({ ready, index }: { ready: Prepared; index: number }): Promise<void> => {
    throwIfAborted(options.signal, 'Sync')
    await applyItem(journal, ready, index, options)
    touched.add(path.dirname(path.join(projectDir, ready.item.path)))
    count++
    options.onProgress?.(count, prepared.length)
    await options.afterWrite?.(count)
  }
  // Deletions first, then the folders they emptied go (before a file takes one's place), then
  // the writes; within each phase the files are independent, so they overlap. A test that
  // stands in for a kill after the Nth write (`afterWrite` never returning) gets one file at a
  // time, so nothing else lands after its "kill" while it recovers.
  const concurrency = options.afterWrite === undefined ? fileConcurrency : 1
  await eachLimit(deletions, concurrency, applyOne)
  await removeEmptied(projectDir, removedDirs)
  await eachLimit(writes, concurrency, applyOne)
  for (const dir of removedDirs) touched.add(path.dirname(path.join(projectDir, dir.path)))
  await eachLimit([...touched], fileConcurrency, async (dir) => {
    // A folder of a deleted file may be gone itself (emptied, removed, maybe a file now).
    await syncDir(dir).catch((error: unknown) => {
      if (errnoOf(error) !== 'ENOENT' && errnoOf(error) !== 'ENOTDIR') throw error
    })
  })
}

async function applyItem(
  journal: Journal,
  ready: Prepared,
  index: number,
  options: ApplySyncOptions,
): Promise<void> {
  const { projectDir, id } = journal.record
  const { item } = ready
  const parents = createParentChecker(projectDir)
  const parent = await parents.problem(item.path)
  if (parent !== undefined || nameProblem(item.path) !== undefined) {
    throw new SafeCoderError(
      'PATH_REJECTED',
      `Sync refused to write ${displayPath(item.path)}: ${parent ?? 'unsafe path'}.`,
      {
        hint: 'Something changed the project while it was synced; plan the sync again.',
        data: { path: item.path },
      },
    )
  }
  const target = path.join(projectDir, item.path)
  try {
    if (item.action === 'delete') await removeEntry(target)
    else {
      // The check above just lstat-ed every ancestor: only the missing ones need a mkdir.
      for (const dir of await parents.missing(item.path)) await makeDir(path.join(projectDir, dir))
      await write(journal, ready, tempPathFor(projectDir, item.path, id, index), options)
    }
  } catch (error) {
    if (isSafeCoderError(error)) throw error
    throw syncFailed(`cannot write ${displayPath(item.path)}`, error, { path: item.path })
  }
}

async function write(
  journal: Journal,
  ready: Prepared,
  temp: string,
  options: ApplySyncOptions,
): Promise<void> {
  const { item } = ready
  const { projectDir } = journal.record
  const session = item.session
  if (session === undefined) throw new Error(`no session version of ${item.path}`)
  const target = path.join(projectDir, item.path)
  if (item.merge !== undefined) {
    await replaceWithFile(target, temp, Buffer.from(item.merge.text), ready.permissions)
    return
  }
  if (session.mode !== symlinkMode && session.size > STREAM_ABOVE_BYTES) {
    const chunks = await streamSessionBytes(options.source, item.path, session)
    if (chunks !== undefined) {
      await replaceWithFile(target, temp, { chunks }, ready.permissions)
      return
    }
  }
  const content = await readSessionBytes(options.source, item.path, session, options.signal)
  if (session.mode !== symlinkMode) {
    await replaceWithFile(target, temp, content, ready.permissions)
    return
  }
  const linkTarget = Buffer.from(content)
  const problem = symlinkTargetProblem(item.path, linkTarget.toString('utf8'))
  if (problem !== undefined) throw new Error(`symlink ${problem}`)
  await replaceWithSymlink(target, temp, linkTarget)
}

/** Undoes a failed sync in place; the error says whether the project is back as it was. */
async function rollBackAfter(
  journal: Journal,
  error: unknown,
  lock: ProjectLock,
): Promise<SafeCoderError> {
  const info = toErrorInfo(error)
  const code = isSafeCoderError(error) ? error.code : 'COPY_FAILED'
  const data = { id: journal.record.id, ...(info.data ?? {}) }
  try {
    await rollBack(journal, 'rolled-back', 'Rollback')
    await unregisterSync(lock.stateDir, journal.record.id)
  } catch (rollbackError) {
    return new SafeCoderError(
      'COPY_FAILED',
      `${info.message} Rolling the sync back failed too: ${toErrorInfo(rollbackError).message}`,
      {
        hint: `The journal ${journal.dir} holds the original files; the next \`safe-coder sync\` of the project rolls the rest back first.`,
        cause: error,
        data: { ...data, rolledBack: false },
      },
    )
  }
  return new SafeCoderError(
    code,
    `${info.message} The project was restored as it was before the sync.`,
    {
      hint: info.hint ?? 'Fix the cause and sync again.',
      cause: error,
      data: { ...data, rolledBack: true },
    },
  )
}
