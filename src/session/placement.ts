import type { SandboxBackend } from '../sandbox/types.js'
import { SafeCoderError } from '../shared/errors.js'
import type { SessionRecord } from './record.js'

/**
 * Refuses to run a session anywhere but where it was created: the backend kind it recorded and,
 * when it recorded one, the same engine endpoint. Whatever front end opened it (exec, resume, an
 * agent reopening it), a mismatch is an error, never a silent move to another engine.
 */
export async function assertPlacement(
  record: SessionRecord,
  backend: SandboxBackend,
  signal?: AbortSignal,
): Promise<void> {
  const recorded = `${record.backend}${record.engine === undefined ? '' : ` at ${record.engine}`}`
  const hint =
    'A session always runs on the backend and engine it was created on: drop --backend, or start that engine again; to go on elsewhere, start a new session.'
  if (backend.kind !== record.backend) {
    throw new SafeCoderError(
      'USAGE',
      `Session ${record.id} runs on ${recorded}, not on ${backend.kind}.`,
      { hint, data: { sessionId: record.id, backend: record.backend, engine: record.engine } },
    )
  }
  if (record.engine === undefined || backend.engine === undefined) return
  const engine = await backend.engine(signal)
  if (engine !== record.engine) {
    throw new SafeCoderError(
      'USAGE',
      `Session ${record.id} runs on ${recorded}, not on the ${backend.kind} engine at ${engine ?? 'an unknown endpoint'}.`,
      { hint, data: { sessionId: record.id, backend: record.backend, engine: record.engine } },
    )
  }
}
