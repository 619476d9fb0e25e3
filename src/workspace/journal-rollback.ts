import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { eachLimit } from '../git/each-limit.js'
import { SafeCoderError, errnoOf } from '../shared/errors.js'
import { symlinkMode } from './blob-oid.js'
import type { Journal, JournalChange } from './journal.js'
import { markJournal } from './journal.js'
import { listPaths, syncFailed } from './sync-errors.js'
import { readHostState, type HostState } from './sync-host.js'
import { restoreDir } from './sync-dirs.js'
import { createParentChecker, underAny } from './sync-paths.js'
import { fileConcurrency } from './sync-types.js'
import {
  removeDirIfEmpty,
  removeEntry,
  makeParents,
  removeLeftover,
  replaceWithFile,
  replaceWithSymlink,
  syncDir,
  tempPathFor,
} from './sync-write.js'

/**
 * Puts every path of a journal back as it was before the sync, makes again the directories it
 * removed (with their permissions), then removes those it created (when empty) and any temp
 * file a crash left. Paths already back are left alone,
 * so running it again (after a crash during rollback) finishes the job. Refuses, changing
 * nothing, when a path is neither as the sync left it nor as it was before: someone edited it
 * since, and restoring would lose that edit.
 */
export async function rollBack(
  journal: Journal,
  final: 'rolled-back' | 'undone',
  what: string,
  options: { onProgress?: (done: number, total: number) => void } = {},
): Promise<string[]> {
  const { record } = journal
  const projectDir = record.projectDir
  const parents = createParentChecker(projectDir)
  const pending: { change: JournalChange; index: number }[] = []
  const edited: string[] = []
  // A link or file the sync deleted to make a directory there: that directory is its own doing.
  const madeDirs = new Set(record.createdDirs)
  const removedDirs = new Map((record.removedDirs ?? []).map((d) => [d.path, d.permissions]))
  // A directory the sync replaced with a file: below that file, its old entries count as gone.
  const madeFiles = new Set(
    record.changes
      .filter((c) => c.after !== undefined && removedDirs.has(c.path))
      .map((c) => c.path),
  )
  // Each path is read (and hashed) on its own: they overlap, and the verdicts keep their order.
  const verdicts: ('kept' | 'pending' | 'edited')[] = []
  await eachLimit([...record.changes.keys()], fileConcurrency, async (index) => {
    const change = record.changes[index] as JournalChange
    const problem = underAny(change.path, madeFiles)
      ? undefined
      : await parents.problem(change.path)
    const state: HostState =
      problem === undefined
        ? await readHostState(projectDir, change.path)
        : { kind: 'other', what: 'directory' }
    const isDir = state.kind === 'other' && state.what === 'directory'
    const ownDir = change.after === undefined && madeDirs.has(change.path) && isDir
    // Killed before the directory it replaces with a file was emptied and removed.
    const stillDir = change.before === undefined && removedDirs.has(change.path) && isDir
    if (stillDir || matches(state, change.before)) verdicts[index] = 'kept'
    else verdicts[index] = ownDir || matches(state, change.after) ? 'pending' : 'edited'
  })
  for (const [index, change] of record.changes.entries()) {
    if (verdicts[index] === 'pending') pending.push({ change, index })
    else if (verdicts[index] === 'edited') edited.push(change.path)
  }
  if (edited.length > 0) {
    edited.sort()
    throw new SafeCoderError(
      'SYNC_CONFLICT',
      `${what} refused: ${listPaths(edited)} changed in the project after sync ${record.id}.`,
      {
        hint: 'Restoring would lose those edits: save or revert them first, then try again.',
        data: { id: record.id, paths: edited },
      },
    )
  }
  // Temp files a killed sync or undo left go first: one left in a folder the sync made would
  // keep that folder from being removed, and the entry it replaced from coming back.
  await eachLimit([...record.changes.entries()], fileConcurrency, async ([index, change]) => {
    await removeLeftover(tempPathFor(projectDir, change.path, record.id, index))
    await removeLeftover(tempPathFor(projectDir, change.path, record.id, `undo-${index}`))
    // The one temp name of an undo by an older version.
    await removeLeftover(tempPathFor(projectDir, change.path, record.id, 'undo'))
  })
  const dirs = new Set<string>()
  const restoreParents = async (rel: string): Promise<void> => {
    for (const dir of ancestorsShallowFirst(rel)) {
      const permissions = removedDirs.get(dir)
      if (permissions !== undefined) await restoreDir(projectDir, dir, permissions)
    }
  }
  // The sync's order reversed: its writes are taken back, then its deletions. Within a phase
  // the files are independent and overlap; a path that makes or removes folders goes alone.
  const structural = (rel: string): boolean =>
    madeDirs.has(rel) || ancestorsShallowFirst(rel).some((dir) => removedDirs.has(dir))
  let done = 0
  const restoreOne = async ({ change, index }: { change: JournalChange; index: number }) => {
    // The directory's files are gone by now (restored in reverse order), and so go the folders
    // the sync made in it (deepest first); then the old entry returns.
    if (madeDirs.has(change.path)) {
      for (const dir of [...record.createdDirs].reverse())
        if (dir === change.path || dir.startsWith(`${change.path}/`))
          await removeDirIfEmpty(path.join(projectDir, dir))
    }
    if (change.before !== undefined) await restoreParents(change.path)
    await restore(journal, change, index)
    dirs.add(path.join(projectDir, path.posix.dirname(change.path)))
    options.onProgress?.(++done, pending.length)
  }
  const reversed = [...pending].reverse()
  for (const phase of [
    reversed.filter(({ change }) => change.action !== 'delete'),
    reversed.filter(({ change }) => change.action === 'delete'),
  ]) {
    await eachLimit(
      phase.filter(({ change }) => !structural(change.path)),
      fileConcurrency,
      restoreOne,
    )
    for (const one of phase.filter(({ change }) => structural(change.path))) await restoreOne(one)
  }
  // Folders the sync emptied and removed come back, also those it emptied of nothing restored.
  const now = createParentChecker(projectDir)
  for (const [dir, permissions] of [...removedDirs].reverse()) {
    if ((await now.problem(dir)) !== undefined) continue
    await restoreDir(projectDir, dir, permissions).catch((error: unknown) => {
      // Its parent is gone too (removed by the user since): nothing to put it back into.
      if (errnoOf(error) !== 'ENOENT') throw error
    })
  }
  for (const dir of [...record.createdDirs].reverse()) {
    await removeDirIfEmpty(path.join(projectDir, dir))
  }
  await eachLimit([...dirs], fileConcurrency, (dir) => syncDir(dir).catch(() => undefined))
  await markJournal(journal.dir, final)
  return pending.map(({ change }) => change.path)
}

/** `a/b/c` → `['a', 'a/b']`. */
function ancestorsShallowFirst(rel: string): string[] {
  const parts = rel.split('/').slice(0, -1)
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'))
}

function matches(state: HostState, side: { oid: string; mode: number } | undefined): boolean {
  if (side === undefined) return state.kind === 'missing'
  return state.kind === 'entry' && state.entry.oid === side.oid && state.entry.mode === side.mode
}

async function restore(journal: Journal, change: JournalChange, index: number): Promise<void> {
  const { projectDir, id } = journal.record
  const target = path.join(projectDir, change.path)
  const temp = tempPathFor(projectDir, change.path, id, `undo-${index}`)
  const { before } = change
  try {
    if (before === undefined) {
      await removeEntry(target)
      return
    }
    await makeParents(projectDir, change.path)
    if (before.mode === symlinkMode) {
      await replaceWithSymlink(target, temp, await readFile(path.join(journal.dir, before.backup)))
    } else {
      const copyOf = path.join(journal.dir, before.backup)
      await replaceWithFile(target, temp, { copyOf }, before.permissions)
    }
  } catch (error) {
    throw syncFailed(`cannot restore ${change.path} from sync ${id}`, error, {
      path: change.path,
      id,
    })
  }
}
