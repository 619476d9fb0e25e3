import type { BackendKind, SandboxBackend } from '../sandbox/types.js'
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
