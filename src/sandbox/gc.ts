import os from 'node:os'
import { isProcessAlive } from '../shared/process-alive.js'
import type { SandboxBackend, SandboxInfo } from './types.js'

export { isProcessAlive }

export interface ReapOptions {
  dryRun?: boolean
  signal?: AbortSignal
  /** For tests; defaults to this host and a signal-0 liveness check. */
  host?: string
  isAlive?: (pid: number) => boolean
}

export interface ReapResult {
  removed: SandboxInfo[]
  kept: { sandbox: SandboxInfo; why: string }[]
}

/**
 * Removes sandboxes whose owning Safe Coder process has died on this host. Sandboxes owned by
 * live processes, or by other hosts (whose pids mean nothing here), are left alone. Session
 * data on disk is never touched.
 */
export async function reapOrphans(
  backend: SandboxBackend,
  options: ReapOptions = {},
): Promise<ReapResult> {
  const host = options.host ?? os.hostname()
  const isAlive = options.isAlive ?? isProcessAlive
  const result: ReapResult = { removed: [], kept: [] }
  for (const sandbox of await backend.list(options.signal)) {
    if (sandbox.ownerHost !== '' && sandbox.ownerHost !== host) {
      result.kept.push({ sandbox, why: `owned by host ${sandbox.ownerHost}` })
    } else if (sandbox.ownerPid > 0 && isAlive(sandbox.ownerPid)) {
      result.kept.push({ sandbox, why: `owner process ${sandbox.ownerPid} is running` })
    } else {
      if (options.dryRun !== true) await backend.remove(sandbox.id, options.signal)
      result.removed.push(sandbox)
    }
  }
  return result
}
