import type { BackendKind, SandboxBackend } from '../sandbox/types.js'
import type { SessionRecord } from './record.js'
import { failedFilters, hasFilter, type SessionFilter } from './session-filter.js'
import type { SessionStore } from './store.js'
import { discardSession } from './workspace-session.js'

/** How one session of a batch ended: discarded, or the error that kept it. */
export type DiscardOutcome = { id: string; ok: true } | { id: string; ok: false; error: unknown }

/**
 * Discards several sessions in one process: at most `concurrency` at a time (each may remove a
 * container), one failing never stopping the others. Each goes through `discardSession`, so a
 * session another process holds is refused exactly as a single discard refuses it.
 */
export async function discardSessions(options: {
  store: SessionStore
  ids: readonly string[]
  /** The backend of a session's placement; the caller shares one per engine. */
  backendFor: (id: string, kind: BackendKind) => SandboxBackend
  concurrency?: number
  onDone?: (outcome: DiscardOutcome) => void
}): Promise<DiscardOutcome[]> {
  const { store, ids, backendFor, onDone } = options
  const outcomes: DiscardOutcome[] = new Array<DiscardOutcome>(ids.length)
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < ids.length; i = next++) {
      const id = ids[i] as string
      let outcome: DiscardOutcome
      try {
        await discardSession(store, id, (kind) => backendFor(id, kind))
        outcome = { id, ok: true }
      } catch (error) {
        outcome = { id, ok: false, error }
      }
      outcomes[i] = outcome
      onDone?.(outcome)
    }
  }
  const workers = Math.max(1, Math.min(options.concurrency ?? 4, ids.length))
  await Promise.all(Array.from({ length: workers }, worker))
  return outcomes
}

/** What a bulk command acts on: the sessions picked, those a filter ruled out, ids unreadable. */
export interface PickedSessions {
  picked: SessionRecord[]
  /** Named sessions the filters ruled out, with the filters each failed. */
  kept: { id: string; failed: string[] }[]
  /** Named ids that could not be read (no such session, a damaged record). */
  unreadable: { id: string; error: unknown }[]
}

/**
 * The sessions named (every session of the store when none is) that match all of `filter`.
 * `headOf` reads a session's history head, undefined when it cannot be read.
 */
export async function pickSessions(options: {
  store: SessionStore
  ids: readonly string[]
  filter: SessionFilter
  headOf: (id: string) => Promise<string | undefined>
  now: number
}): Promise<PickedSessions> {
  const { store, ids, filter, headOf, now } = options
  const result: PickedSessions = { picked: [], kept: [], unreadable: [] }
  const candidates =
    ids.length > 0
      ? await Promise.all(
          [...new Set(ids)].map((id) =>
            store.read(id).catch((error: unknown) => {
              result.unreadable.push({ id, error })
              return undefined
            }),
          ),
        )
      : (await store.list()).sessions
  for (const record of candidates) {
    if (record === undefined || record.status === 'discarded') continue
    if (hasFilter(filter)) {
      const failed = failedFilters({ record, head: await headOf(record.id) }, filter, now)
      if (failed.length > 0) {
        result.kept.push({ id: record.id, failed })
        continue
      }
    }
    result.picked.push(record)
  }
  return result
}

/**
 * A session's backend, made once per engine and shared by every session placed on it (a bulk
 * discard of sessions on one Docker daemon talks to it through one client).
 */
export function oneBackendPerEngine(
  records: readonly SessionRecord[],
  make: (record: SessionRecord) => SandboxBackend,
): (id: string) => SandboxBackend {
  const byId = new Map(records.map((r) => [r.id, r]))
  const made = new Map<string, SandboxBackend>()
  return (id) => {
    const record = byId.get(id)
    if (record === undefined)
      throw new Error(`oneBackendPerEngine: ${id} is not one of the records`)
    const key = `${record.backend} ${record.engine ?? ''}`
    const known = made.get(key)
    if (known !== undefined) return known
    const backend = make(record)
    made.set(key, backend)
    return backend
  }
}
