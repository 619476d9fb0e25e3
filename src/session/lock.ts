import { open, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import { sleep } from '../shared/abort.js'
import { isProcessAlive } from '../shared/process-alive.js'
import { SafeCoderError, errnoOf } from '../shared/errors.js'

/** A held session lock; release it when the command is done. */
export interface SessionLock {
  release(): Promise<void>
}

/**
 * One command at a time per session, across processes: the history must never interleave.
 * The lock file holds the owner's pid and host; a lock whose owner died on this host is stale
 * and taken over.
 */
export async function acquireSessionLock(
  lockFile: string,
  sessionId: string,
): Promise<SessionLock> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockFile, 'wx', 0o600)
      await handle.writeFile(JSON.stringify({ pid: process.pid, host: os.hostname() }))
      await handle.close()
      let released = false
      return {
        release: async () => {
          if (released) return
          released = true
          await rm(lockFile, { force: true })
        },
      }
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw error
    }
    // A lock created a moment ago may not hold its owner yet: look twice before calling it stale.
    let owner = await readOwner(lockFile)
    if (owner === undefined) {
      await sleep(100)
      owner = await readOwner(lockFile)
    }
    if (owner !== undefined && (owner.host !== os.hostname() || isProcessAlive(owner.pid))) {
      throw new SafeCoderError(
        'USAGE',
        `Session ${sessionId} is busy: safe-coder process ${owner.pid}${owner.host === os.hostname() ? '' : ` on ${owner.host}`} is running a command in it.`,
        {
          hint: 'Wait for that command to finish; commands in one session run one at a time so its history never interleaves.',
          data: { sessionId, ownerPid: owner.pid },
        },
      )
    }
    // The owner is gone (killed mid-command): the lock is stale.
    await rm(lockFile, { force: true })
  }
  throw new SafeCoderError('USAGE', `Session ${sessionId} is busy: its lock keeps coming back.`, {
    hint: 'Another safe-coder process is starting commands in it; try again when it is done.',
  })
}

async function readOwner(lockFile: string): Promise<{ pid: number; host: string } | undefined> {
  try {
    const parsed = JSON.parse(await readFile(lockFile, 'utf8')) as { pid?: unknown; host?: unknown }
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string')
      return { pid: parsed.pid, host: parsed.host }
  } catch {
    // Being written right now, or garbage; the caller looks again before deciding.
  }
  return undefined
}
