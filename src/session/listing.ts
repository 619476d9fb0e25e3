import { readBranch } from '../git/head-ref.js'
import { changedPaths } from '../git/changed-paths.js'
import { isProcessAlive } from '../shared/process-alive.js'
import type { SessionRecord } from './record.js'
import type { SessionStore } from './store.js'

/** A session as `sessions` lists it: its record, where its history stands, whether it is live. */
export interface SessionSummary extends Omit<SessionRecord, 'status'> {
  /** An "active" session whose process died was interrupted: it is listed as stopped. */
  status: SessionRecord['status'] | 'stopped'
  head: string | undefined
  /** Files that differ between the snapshot and the head; undefined when unreadable. */
  changedFiles: number | undefined
  unsynced: boolean
  ownerAlive: boolean
}

/**
 * Every session of the store with where its history stands. Reads only the records and the
 * histories' refs and trees (no mirror is mounted, no engine asked), so a list of a hundred
 * sessions costs milliseconds beyond loading the records.
 */
export async function listSessions(
  store: SessionStore,
): Promise<{ sessions: SessionSummary[]; damaged: { id: string; message: string }[] }> {
  const { sessions, damaged } = await store.list()
  const rows: SessionSummary[] = []
  for (let i = 0; i < sessions.length; i += 64) {
    rows.push(...(await Promise.all(sessions.slice(i, i + 64).map((r) => summarise(store, r)))))
  }
  return { sessions: rows, damaged }
}

async function summarise(store: SessionStore, record: SessionRecord): Promise<SessionSummary> {
  let head: string | undefined
  let changed: number | undefined
  // A session that never finished copying in has no history yet: nothing to count.
  if (record.baseCommit !== undefined) {
    try {
      const { gitdir } = store.paths(record.id)
      head = await readBranch(gitdir)
      changed =
        head === undefined
          ? undefined
          : (await changedPaths({ gitdir }, record.baseCommit, head)).length
    } catch {
      // A session whose history cannot be read is still listed; `log` says why.
    }
  }
  const ownerAlive = record.status === 'active' && isProcessAlive(record.ownerPid)
  const status = record.status === 'active' && !ownerAlive ? 'stopped' : record.status
  const unsynced = head !== undefined && head !== record.baseCommit && head !== record.syncedCommit
  return { ...record, status, head, changedFiles: changed, unsynced, ownerAlive }
}
