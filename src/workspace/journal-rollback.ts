import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { SafeCoderError, errnoOf } from '../shared/errors.js'
import { symlinkMode } from './blob-oid.js'
import type { Journal, JournalChange } from './journal.js'
import { markJournal } from './journal.js'
import { listPaths, syncFailed } from './sync-errors.js'
import { readHostState, type HostState } from './sync-host.js'
import { restoreDir } from './sync-dirs.js'
import { createParentChecker, underAny } from './sync-paths.js'
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
): Promise<string[]> {
  const { record } = journal
  const projectDir = record.projectDir
  const parents = createParentChecker(projectDir)
  const pending: JournalChange[] = []
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
  for (const change of record.changes) {
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
    if (stillDir || matches(state, change.before)) continue
    if (ownDir || matches(state, change.after)) pending.push(change)
    else edited.push(change.path)
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
  const dirs = new Set<string>()
  const restoreParents = async (rel: string): Promise<void> => {
    for (const dir of ancestorsShallowFirst(rel)) {
      const permissions = removedDirs.get(dir)
      if (permissions !== undefined) await restoreDir(projectDir, dir, permissions)
    }
  }
  for (const change of [...pending].reverse()) {
    // The directory's files are gone by now (restored in reverse order), and so go the folders
    // the sync made in it (deepest first); then the old entry returns.
    if (madeDirs.has(change.path)) {
      for (const dir of [...record.createdDirs].reverse())
        if (dir === change.path || dir.startsWith(`${change.path}/`))
          await removeDirIfEmpty(path.join(projectDir, dir))
    }
    if (change.before !== undefined) await restoreParents(change.path)
    await restore(journal, change)
    dirs.add(path.join(projectDir, path.posix.dirname(change.path)))
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
  for (const [index, change] of record.changes.entries()) {
    await removeLeftover(tempPathFor(projectDir, change.path, record.id, index))
    await removeLeftover(tempPathFor(projectDir, change.path, record.id, 'undo'))
  }
  for (const dir of [...record.createdDirs].reverse()) {
    await removeDirIfEmpty(path.join(projectDir, dir))
  }
  for (const dir of dirs) await syncDir(dir).catch(() => undefined)
  await markJournal(journal.dir, final)
  return pending.map((change) => change.path)
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

async function restore(journal: Journal, change: JournalChange): Promise<void> {
  const { projectDir, id } = journal.record
  const target = path.join(projectDir, change.path)
  const temp = tempPathFor(projectDir, change.path, id, 'undo')
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
