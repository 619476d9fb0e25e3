import type { BackendKind, SandboxBackend } from '../sandbox/types.js'
import { SafeCoderError } from '../shared/errors.js'
import type { SessionRecord } from './record.js'

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
    `Cannot ${doing} session ${id} yet: it still records sandbox ${sandboxId.slice(0, 12)}, left by a Safe Coder process that is gone, and that sandbox may still be running and changing the session's files.`,
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
    `Session ${record.id} still records a ${record.backend} sandbox (${left.slice(0, 12)}) left by a Safe Coder process that is gone; it may still be running and changing the session's files, and the ${kind} backend cannot remove it.`,
    {
      hint: `Resume it with its own backend first: safe-coder resume ${record.id} --backend ${record.backend}`,
      data: { sessionId: record.id, sandboxId: left, backend: record.backend },
    },
  )
}
