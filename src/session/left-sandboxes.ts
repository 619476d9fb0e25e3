import type { BackendKind, SandboxBackend } from '../sandbox/types.js'
import { SafeCoderError } from '../shared/errors.js'
import type { SessionRecord } from './record.js'
import type { SessionStore } from './store.js'

/**
 * What a session records while its sandbox is being created, before the backend has named it:
 * a process killed in that window leaves a sandbox the record must still admit to, or revert
 * and discard would work on a mirror it is changing.
 */
export const SANDBOX_STARTING = 'starting'

/** How a recorded sandbox is named in a message. */
function named(sandboxId: string): string {
  return sandboxId === SANDBOX_STARTING
    ? 'a sandbox it was starting'
    : `sandbox ${sandboxId.slice(0, 12)}`
}

/**
 * Creates a session's sandbox with the record admitting to it throughout: before the backend
 * names it, the record says one is starting, so a process killed in between still leaves a
 * record that revert, discard and the next exec act on. A failed start clears the mark (the
 * backend removes what it made). The caller holds the session's lock.
 */
export async function startingSandbox<T>(
  store: SessionStore,
  id: string,
  create: () => Promise<T>,
): Promise<T> {
  await store.update(id, () => ({ sandboxId: SANDBOX_STARTING, ownerPid: process.pid }))
  try {
    return await create()
  } catch (error) {
    await store.update(id, () => ({ sandboxId: undefined })).catch(() => undefined)
    throw error
  }
}

/**
 * Removes every sandbox of a session, with its networks and proxy. The caller holds the
 * session's lock, so each one was left by a Safe Coder process that died, and its processes
 * (background jobs outlive tool calls) could still be changing the mirror. Returns the id of
 * the last one removed.
 */
export async function removeSessionSandboxes(
  backend: SandboxBackend,
  id: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  let removed: string | undefined
  for (const sandbox of await backend.list(signal)) {
    if (sandbox.sessionId === id) {
      await backend.remove(sandbox.id, signal)
      removed = sandbox.id
    }
  }
  return removed
}

/**
 * Host work on a mirror that a dead process's sandbox may still be changing is refused: a
 * process there could swap a directory for a link to a host path under the host's writes.
 */
export function sandboxLeft(id: string, sandboxId: string, doing: string): SafeCoderError {
  return new SafeCoderError(
    'USAGE',
    `Cannot ${doing} session ${id} yet: it still records ${named(sandboxId)}, left by a Safe Coder process that is gone, and that sandbox may still be running and changing the session's files.`,
    {
      hint: `Run \`safe-coder resume ${id}\` (it removes that sandbox and records what it left), then ${doing} it again.`,
      data: { sessionId: id, sandboxId },
    },
  )
}

/** A dead process's sandbox that the backend at hand cannot remove (another kind). */
export function otherKindLeft(record: SessionRecord, kind: BackendKind): SafeCoderError {
  const left = record.sandboxId ?? ''
  return new SafeCoderError(
    'USAGE',
    `Session ${record.id} still records ${named(left)} on the ${record.backend} backend, left by a Safe Coder process that is gone; it may still be running and changing the session's files, and the ${kind} backend cannot remove it.`,
    {
      hint: `Resume it with its own backend first: safe-coder resume ${record.id} --backend ${record.backend}`,
      data: { sessionId: record.id, sandboxId: left, backend: record.backend },
    },
  )
}
