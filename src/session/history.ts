import { initAuditRepo, type AuditRepo } from '../git/index.js'
import { SafeCoderError } from '../shared/errors.js'
import { openMirror } from './mirror-disk.js'
import type { SessionStore } from './store.js'

/** The audit repository of a session, with its mirror mounted when it lives on a disk. */
export async function auditRepo(
  store: SessionStore,
  id: string,
  maxFileBytes: number,
): Promise<AuditRepo> {
  const paths = store.paths(id)
  await openMirror(paths)
  return initAuditRepo({ gitdir: paths.gitdir, workDir: paths.work, maxFileBytes })
}

/** A session whose copy-in never finished: it has no snapshot, so no history to show or resume. */
export function incompleteSession(id: string): SafeCoderError {
  return new SafeCoderError(
    'NOT_FOUND',
    `Session ${id} never finished copying the project in (it was interrupted, or is still copying), so it has no snapshot or history yet.`,
    {
      hint: `If no Safe Coder process is copying it right now, discard it (safe-coder discard ${id} --yes) and start a new session; the project itself was never changed.`,
      data: { sessionId: id },
    },
  )
}
