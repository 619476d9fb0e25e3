/**
 * Killing what a command started. Each command runs in its own process group (spawned
 * detached) and carries a marker in its environment, which children inherit even after
 * setsid() or a double fork: the group gets SIGKILL, then /proc is scanned for processes that
 * still carry the marker, until none is left (a fork bomb cannot outrun it for long).
 */

import { readdirSync, readFileSync } from 'node:fs'

export const MARKER_NAME = 'SAFE_CODER_EXEC'
const ROUNDS = 20

/** SIGKILLs the process group `pgid` (when given) and every process whose marker matches. */
export function killTree(pgid: number | undefined, marker: string, prefix = false): void {
  if (pgid !== undefined && pgid > 1) {
    try {
      process.kill(-pgid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
  const needle = Buffer.from(`${MARKER_NAME}=${marker}`)
  for (let round = 0; round < ROUNDS; round++) {
    if (killMarked(needle, prefix) === 0) return
  }
}

/** One pass over /proc; returns how many processes it signalled. */
function killMarked(needle: Buffer, prefix: boolean): number {
  let pids: string[]
  try {
    pids = readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name))
  } catch {
    return 0
  }
  let killed = 0
  for (const name of pids) {
    const pid = Number(name)
    if (pid === process.pid) continue
    let environ: Buffer
    try {
      environ = readFileSync(`/proc/${name}/environ`)
    } catch {
      continue
    }
    if (!hasMarker(environ, needle, prefix)) continue
    try {
      process.kill(pid, 'SIGKILL')
      killed++
    } catch {
      // Exited meanwhile, or not ours to kill.
    }
  }
  return killed
}

/** Whether the NUL-separated environment holds `needle` as a whole entry (or an entry's prefix). */
function hasMarker(environ: Buffer, needle: Buffer, prefix: boolean): boolean {
  let from = 0
  while (from < environ.length) {
    const at = environ.indexOf(needle, from)
    if (at < 0) return false
    const startsEntry = at === 0 || environ[at - 1] === 0
    const end = at + needle.length
    const endsEntry = end === environ.length || environ[end] === 0
    if (startsEntry && (prefix || endsEntry)) return true
    from = at + 1
  }
  return false
}
