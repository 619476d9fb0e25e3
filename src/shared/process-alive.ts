import { errnoOf } from './errors.js'

/** Signal 0 probes a pid without touching it; EPERM still means it exists. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return errnoOf(error) === 'EPERM'
  }
}
