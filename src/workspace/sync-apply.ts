import { open, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { throwIfAborted } from '../shared/abort.js'
import { SafeCoderError, isSafeCoderError, toErrorInfo } from '../shared/errors.js'
import { createId } from '../shared/ids.js'
import { blobOid, symlinkMode } from './blob-oid.js'
import { displayPath } from './copy-errors.js'
import { rollBack } from './journal-rollback.js'
import {
  createJournalDir,
  interruptedJournals,
  markJournal,
  writeRecord,
  type Journal,
  type JournalChange,
  type JournalRecord,
} from './journal.js'
import { readSessionBytes } from './sync-decide.js'
import { listPaths, syncFailed } from './sync-errors.js'
import { readHostState, sameEntry } from './sync-host.js'
import { createParentChecker, nameProblem, symlinkTargetProblem, underAny } from './sync-paths.js'
import type { ApplySyncOptions, SyncItem, SyncPlan, SyncResult } from './sync-types.js'
import { writingActions } from './sync-types.js'
import {
  makeParents,
  removeEntry,
  replaceWithFile,
  replaceWithSymlink,
  syncDir,
  tempPathFor,
  type Permissions,
} from './sync-write.js'

/** A change ready to apply: its journal entry plus what to write. */
interface Prepared {
  item: SyncItem
  change: JournalChange
  permissions: Permissions
}

// Journal first, then change: whatever happens after the journal is marked started can be undone.
export async function runApply(plan: SyncPlan, options: ApplySyncOptions): Promise<SyncResult> {
  const { projectDir } = plan
  const { signal } = options
  throwIfAborted(signal, 'Sync')
  await refuseInterrupted(options.journalDir, projectDir)
  const writing = plan.items.filter((item) => writingActions.has(item.action))
  refuseUnconfirmed(writing, options.confirmRisky)
  const id = createId('sync')
  const dir = await createJournalDir(options.journalDir, id)
  const conflicts = plan.items.filter((item) => item.action === 'conflict')
  const prepared: Prepared[] = []
  // Deleted before anything is written: below them a directory is made anew (never followed).
  const deleted = new Set(writing.filter((item) => item.action === 'delete').map((i) => i.path))
  const parents = createParentChecker(projectDir, deleted)
  const createdDirs = new Set<string>()
  for (const item of order(writing)) {
    throwIfAborted(signal, 'Sync')
    const parent = await parents.problem(item.path)
    if (parent !== undefined) {
      conflicts.push({ ...item, action: 'conflict', reason: `refused at apply time: ${parent}` })
      continue
    }
    const ready = await prepare(projectDir, dir, item, prepared.length, deleted)
    if (typeof ready === 'string') {
      conflicts.push({ ...item, action: 'conflict', reason: ready })
      continue
    }
    if (item.action !== 'delete')
      for (const missing of await parents.missing(item.path)) createdDirs.add(missing)
    prepared.push(ready)
  }
  const record: JournalRecord = {
    version: 1,
    id,
    projectDir,
    createdAt: new Date().toISOString(),
    changes: prepared.map((ready) => ready.change),
    createdDirs: [...createdDirs].sort((a, b) => a.split('/').length - b.split('/').length),
  }
  await writeRecord(dir, record)
  await markJournal(dir, 'started')
  const journal: Journal = { dir, record, state: 'started' }
  try {
    await applyAll(journal, prepared, options)
  } catch (error) {
    throw await rollBackAfter(journal, error)
  }
  await markJournal(dir, 'done')
  return {
    id,
    applied: prepared.map((ready) => ready.item),
    conflicts,
    merged: prepared
      .filter((ready) => ready.item.merge !== undefined)
      .map((ready) => ready.item.path),
  }
}

async function refuseInterrupted(journalDir: string, projectDir: string): Promise<void> {
  const interrupted = await interruptedJournals(journalDir, projectDir)
  if (interrupted.length === 0) return
  const ids = interrupted.map((journal) => journal.record.id)
  throw new SafeCoderError(
    'SYNC_CONFLICT',
    `Sync refused: an earlier sync of ${projectDir} (${ids.join(', ')}) was interrupted half-way.`,
    {
      hint: 'Run `safe-coder sync SESSION` for that session: before anything else it rolls the interrupted sync back, restoring the project as it was before it.',
      data: { ids, projectDir },
    },
  )
}

function refuseUnconfirmed(writing: SyncItem[], confirmed: boolean): void {
  const risky = writing.filter((item) => item.risky.length > 0)
  if (confirmed || risky.length === 0) return
  const listed = risky.map((item) => `${displayPath(item.path)} (${item.risky.join(', ')})`)
  throw new SafeCoderError(
    'USAGE',
    `Sync needs confirmation: ${risky.length} risky change(s): ${listPaths(listed, 10)}.`,
    {
      hint: 'Review them with `safe-coder sync --dry-run`, then confirm with --yes (or leave them out with --exclude).',
      data: { paths: risky.map((item) => item.path) },
    },
  )
}

/** Deletions first (a path freed may be needed by a creation), then the rest; each by path. */
function order(items: SyncItem[]): SyncItem[] {
  const deletes = items.filter((item) => item.action === 'delete')
  return [...deletes, ...items.filter((item) => item.action !== 'delete')]
}

/**
 * Checks the host still holds what the plan saw and backs it up into the journal in the same
 * read; returns why not when the host changed since planning.
 */
async function prepare(
  projectDir: string,
  dir: string,
  item: SyncItem,
  index: number,
  deleted: ReadonlySet<string>,
): Promise<Prepared | string> {
  const backup = path.posix.join('backup', String(index))
  let handle: FileHandle | undefined
  // Below a link this sync deletes first: never read (or back up) what lies behind the link.
  const state = underAny(item.path, deleted)
    ? ({ kind: 'missing' } as const)
    : await readHostState(projectDir, item.path, {
        sink: async (chunk) => {
          handle ??= await open(path.join(dir, backup), 'wx', 0o600)
          await handle.write(chunk)
        },
      }).finally(async () => {
        await handle?.sync()
        await handle?.close()
      })
  const host = state.kind === 'entry' ? state.entry : undefined
  if (state.kind === 'other' || !sameEntry(host, item.host)) {
    return 'the host file changed after the plan was made; plan again'
  }
  const session = item.session
  const change: JournalChange = { path: item.path, action: item.action }
  if (state.kind === 'entry') {
    if (handle === undefined) await (await open(path.join(dir, backup), 'wx', 0o600)).close()
    change.before = {
      oid: state.entry.oid,
      mode: state.entry.mode,
      permissions: state.permissions,
      backup,
    }
  }
  if (session !== undefined && item.action !== 'delete') {
    const oid = item.merge === undefined ? session.oid : blobOid(Buffer.from(item.merge.text))
    change.after = { oid, mode: session.mode }
  }
  const executable = session?.mode === 0o100755
  let permissions: Permissions = { executable }
  if (state.kind === 'entry' && state.entry.mode !== symlinkMode) {
    const kept = state.permissions & 0o777
    permissions = executable ? kept | ((kept & 0o444) >> 2) : kept & ~0o111
  }
  return { item, change, permissions }
}

async function applyAll(
  journal: Journal,
  prepared: Prepared[],
  options: ApplySyncOptions,
): Promise<void> {
  const { projectDir, id } = journal.record
  const touched = new Set<string>()
  for (const [index, ready] of prepared.entries()) {
    throwIfAborted(options.signal, 'Sync')
    const { item } = ready
    const parent = await createParentChecker(projectDir).problem(item.path)
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
      else await write(journal, ready, tempPathFor(projectDir, item.path, id, index), options)
    } catch (error) {
      if (isSafeCoderError(error)) throw error
      throw syncFailed(`cannot write ${displayPath(item.path)}`, error, { path: item.path })
    }
    touched.add(path.dirname(target))
    await options.afterWrite?.(index + 1)
  }
  for (const dir of touched) await syncDir(dir)
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
  await makeParents(projectDir, item.path)
  const target = path.join(projectDir, item.path)
  if (item.merge !== undefined) {
    await replaceWithFile(target, temp, Buffer.from(item.merge.text), ready.permissions)
    return
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
async function rollBackAfter(journal: Journal, error: unknown): Promise<SafeCoderError> {
  const info = toErrorInfo(error)
  const code = isSafeCoderError(error) ? error.code : 'COPY_FAILED'
  const data = { id: journal.record.id, ...(info.data ?? {}) }
  try {
    await rollBack(journal, 'rolled-back', 'Rollback')
  } catch (rollbackError) {
    return new SafeCoderError(
      'COPY_FAILED',
      `${info.message} Rolling the sync back failed too: ${toErrorInfo(rollbackError).message}`,
      {
        hint: `The journal ${journal.dir} holds the original files; the next \`safe-coder sync SESSION\` of this session rolls the project back from it.`,
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
