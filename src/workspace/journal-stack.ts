import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { Manifest } from '../shared/manifest.js'
import { listJournalIds, readJournal, type Journal } from './journal.js'

/**
 * A session's applied syncs, oldest first: the journals marked done that changed something.
 * Undo takes the newest; the merge base of the next sync is the copy with each of them laid
 * over it. Rolled-back, undone and interrupted journals are not on it.
 */
export async function readSyncStack(journalDir: string): Promise<Journal[]> {
  const stack: Journal[] = []
  for (const id of await listJournalIds(journalDir)) {
    // The state first: undone and rolled-back journals are never parsed.
    const state = await readFile(path.join(journalDir, id, 'state'), 'utf8').catch(() => '')
    if (state.trim() !== 'done') continue
    const journal = await readJournal(journalDir, id).catch(() => undefined)
    if (journal?.state === 'done' && journal.record.changes.length > 0) stack.push(journal)
  }
  // Ids sort by time; the sequence number is what counts when the clock went back.
  return stack.sort(
    (a, b) =>
      (a.record.seq ?? 0) - (b.record.seq ?? 0) ||
      (a.record.id < b.record.id ? -1 : a.record.id > b.record.id ? 1 : 0),
  )
}

/** What the next sync of a session compares against: the copy, moved on by its applied syncs. */
export interface SyncBase {
  /** The copy-time manifest with every applied sync's settled paths laid over it. */
  base: Manifest
  /** Paths some applied sync settled: they may differ from HEAD even where the copy does not. */
  settled: string[]
  /** The applied syncs, oldest first. */
  stack: Journal[]
}

/**
 * Lays the session's applied syncs over its copy-time manifest (`copy` is changed in place):
 * a path a sync wrote has what it wrote as its base, so a later edit is not a conflict and a
 * later deletion (or return to the copy's content) is a change to bring over.
 */
export async function readSyncBase(journalDir: string, copy: Manifest): Promise<SyncBase> {
  const stack = await readSyncStack(journalDir)
  const settled = new Set<string>()
  for (const journal of stack) {
    for (const { path, entry } of journal.record.settled ?? []) {
      settled.add(path)
      if (entry === null) Reflect.deleteProperty(copy, path)
      else copy[path] = entry
    }
  }
  return { base: copy, settled: [...settled], stack }
}
