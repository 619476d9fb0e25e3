import type { SessionRecord } from './record.js'

/** Which sessions a bulk command (`discard --synced --older-than 7d`) picks; all given must hold. */
export interface SessionFilter {
  /** Nothing left to bring back: no work beyond the start, or all of it synced. */
  synced?: boolean
  /** No recorded changes beyond the session's start. */
  empty?: boolean
  /** Last active (its record's `updatedAt`) longer ago than this many milliseconds. */
  olderThanMs?: number
}

/** A session as the filter sees it: its record and its history's head (unknown if unreadable). */
export interface FilterableSession {
  record: Pick<SessionRecord, 'id' | 'baseCommit' | 'syncedCommit' | 'updatedAt' | 'commits'>
  head: string | undefined
}

/** Whether any filter is set (none set means "no filtering", not "everything"). */
export function hasFilter(filter: SessionFilter): boolean {
  return filter.synced === true || filter.empty === true || filter.olderThanMs !== undefined
}

/** The filters a session fails, by flag name; empty when it matches all of them. */
export function failedFilters(
  session: FilterableSession,
  filter: SessionFilter,
  now: number,
): string[] {
  const failed: string[] = []
  if (filter.empty === true && !isEmpty(session)) failed.push('--empty')
  if (filter.synced === true && !isEmpty(session) && !isSynced(session)) failed.push('--synced')
  if (filter.olderThanMs !== undefined) {
    const at = Date.parse(session.record.updatedAt)
    if (!Number.isFinite(at) || now - at <= filter.olderThanMs) failed.push('--older-than')
  }
  return failed
}

/** Its newest work is what its last sync brought back. */
function isSynced({ record, head }: FilterableSession): boolean {
  return head !== undefined && head === record.syncedCommit
}

/**
 * No work beyond the start: its history's head is its base commit. A session whose creation
 * never finished (no base commit) holds nothing either; one whose history cannot be read is
 * judged by its record's commit count.
 */
function isEmpty({ record, head }: FilterableSession): boolean {
  if (record.baseCommit === undefined) return true
  if (head === undefined) return record.commits === 0
  return head === record.baseCommit
}
