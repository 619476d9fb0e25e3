import { mkdir, readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { SafeCoderError, errnoOf } from '../shared/errors.js'
import type { GitFileMode, ManifestEntry } from '../shared/manifest.js'
import { syncFailed } from './sync-errors.js'
import type { SyncAction } from './sync-types.js'
import { syncDir, writeFileAtomic } from '../shared/durable-file.js'

/**
 * `prepared`: backups written, nothing changed yet. `started`: the project is being changed.
 * `done`: every change landed. `rolled-back`/`undone`: the project is as before the sync.
 */
export type JournalState = 'prepared' | 'started' | 'done' | 'rolled-back' | 'undone'

/** One path as it was before the sync (with its backup) and as the sync leaves it. */
export interface JournalChange {
  path: string
  action: SyncAction
  /** Absent: the path did not exist. `backup` is relative to the journal directory. */
  before?: { oid: string; mode: GitFileMode; permissions: number; backup: string }
  /** Absent: the sync removes the path. */
  after?: { oid: string; mode: GitFileMode }
}

export interface JournalRecord {
  version: 1
  id: string
  projectDir: string
  createdAt: string
  /** In the order they are applied. */
  changes: JournalChange[]
  /** Directories the sync creates, shallowest first; removed again (when empty) on rollback. */
  createdDirs: string[]
  /**
   * Directories the sync removes once its deletions leave them empty, deepest first, with their
   * permissions: made again on rollback. Absent in journals of older versions.
   */
  removedDirs?: { path: string; permissions: number }[]
  /** Its place on the session's undo stack (1: the first sync); absent in older journals. */
  seq?: number
  /** The session commit the sync brought to the project. */
  head?: string
  /**
   * The merge base the sync leaves for each path it wrote or found already written: the session's
   * version (`null`: absent). The next sync of the session compares with these, not the copy.
   */
  settled?: { path: string; entry: ManifestEntry | null }[]
}

/** A journal on disk: `<journalDir>/<id>/journal.json`, `state`, `backup/<n>`. */
export interface Journal {
  readonly dir: string
  readonly record: JournalRecord
  readonly state: JournalState
}

// Every journal step is fsync-ed: after a crash, the journal must describe the project truthfully.
export async function writeDurable(file: string, data: string | Uint8Array): Promise<void> {
  await writeFileAtomic(file, data)
}

/** Creates `<journalDir>/<id>/backup/`; the id must be new. */
export async function createJournalDir(journalDir: string, id: string): Promise<string> {
  const dir = path.join(journalDir, id)
  try {
    await mkdir(journalDir, { recursive: true, mode: 0o700 })
    await mkdir(dir, { mode: 0o700 })
    await mkdir(path.join(dir, 'backup'), { mode: 0o700 })
  } catch (error) {
    throw syncFailed(`cannot create the sync journal ${dir}`, error, { journalDir })
  }
  return dir
}

export async function writeRecord(dir: string, record: JournalRecord): Promise<void> {
  await syncDir(path.join(dir, 'backup'))
  await writeDurable(path.join(dir, 'journal.json'), `${JSON.stringify(record, null, 2)}\n`)
}

export async function markJournal(dir: string, state: JournalState): Promise<void> {
  try {
    await writeDurable(path.join(dir, 'state'), `${state}\n`)
  } catch (error) {
    throw syncFailed(`cannot record the sync state in ${dir}`, error)
  }
}

/** The journal `id`; NOT_FOUND when there is none. */
export async function readJournal(journalDir: string, id: string): Promise<Journal> {
  if (!/^[\w.-]+$/.test(id) || id.startsWith('.')) {
    throw new SafeCoderError('USAGE', `Sync undo failed: ${JSON.stringify(id)} is not a sync id.`, {
      hint: 'Use the id printed by `safe-coder sync`.',
    })
  }
  const dir = path.join(journalDir, id)
  let text: string
  let state: string
  try {
    text = await readFile(path.join(dir, 'journal.json'), 'utf8')
    state = await readFile(path.join(dir, 'state'), 'utf8').catch((error: unknown) => {
      if (errnoOf(error) === 'ENOENT') return 'prepared'
      throw error
    })
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') {
      throw new SafeCoderError('NOT_FOUND', `Sync undo failed: no sync ${id} in ${journalDir}.`, {
        hint: 'List past syncs with `safe-coder sessions`, and use the id printed by `safe-coder sync`.',
        data: { id, journalDir },
      })
    }
    throw syncFailed(`cannot read the sync journal ${dir}`, error, { id })
  }
  const record = parseRecord(text)
  if (record?.id !== id) {
    throw new SafeCoderError(
      'COPY_FAILED',
      `Sync undo failed: the journal ${dir} is not readable.`,
      {
        hint: 'It was written by another version of Safe Coder, or damaged.',
        data: { id },
      },
    )
  }
  return { dir, record, state: state.trim() as JournalState }
}

/** Journal ids in `journalDir`, oldest first (ids sort by time). */
export async function listJournalIds(journalDir: string): Promise<string[]> {
  try {
    const entries = await readdir(journalDir, { withFileTypes: true })
    return entries
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
      .map((entry) => entry.name)
      .sort()
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return []
    throw syncFailed(`cannot list the sync journals in ${journalDir}`, error)
  }
}

/** Ids of syncs that started changing the project and never finished (killed mid-sync). */
export async function interruptedJournals(
  journalDir: string,
  projectDir: string,
): Promise<Journal[]> {
  const found: Journal[] = []
  for (const id of await listJournalIds(journalDir)) {
    let state: string
    try {
      state = (await readFile(path.join(journalDir, id, 'state'), 'utf8')).trim()
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') continue
      throw syncFailed(`cannot read the sync journal ${id}`, error, { id })
    }
    if (state !== 'started') continue
    const journal = await readJournal(journalDir, id)
    if (journal.record.projectDir === projectDir) found.push(journal)
  }
  return found
}

function parseRecord(text: string): JournalRecord | undefined {
  try {
    const parsed: unknown = JSON.parse(text)
    if (typeof parsed !== 'object' || parsed === null) return undefined
    const fields = parsed as Partial<Record<keyof JournalRecord, unknown>>
    const valid =
      fields.version === 1 &&
      typeof fields.id === 'string' &&
      typeof fields.projectDir === 'string' &&
      Array.isArray(fields.changes) &&
      Array.isArray(fields.createdDirs)
    return valid ? (parsed as JournalRecord) : undefined
  } catch {
    return undefined
  }
}
