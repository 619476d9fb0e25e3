import type { Readable } from 'node:stream'
import type Docker from 'dockerode'
import type { ResourceSample } from '../types.js'
import { sandboxError } from './engine-errors.js'

/** The subset of the Engine's stats document we read (cgroup v1 and v2 alike). */
export interface EngineStats {
  read?: string
  cpu_stats?: {
    cpu_usage?: { total_usage?: number; percpu_usage?: number[] }
    system_cpu_usage?: number
    online_cpus?: number
  }
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number }
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> }
  pids_stats?: { current?: number }
  blkio_stats?: { io_service_bytes_recursive?: { op: string; value: number }[] | null }
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>
}

/** One Engine stats document → one sample, computed the way `docker stats` does. */
export function toSample(s: EngineStats, now = Date.now()): ResourceSample {
  const cpuDelta =
    (s.cpu_stats?.cpu_usage?.total_usage ?? 0) - (s.precpu_stats?.cpu_usage?.total_usage ?? 0)
  const systemDelta = (s.cpu_stats?.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0)
  const cpus = s.cpu_stats?.online_cpus ?? s.cpu_stats?.cpu_usage?.percpu_usage?.length ?? 1
  const cpuPercent = cpuDelta > 0 && systemDelta > 0 ? (cpuDelta / systemDelta) * cpus * 100 : 0
  const mem = s.memory_stats
  // Page cache is reclaimable; `docker stats` leaves it out (cgroup v1: cache, v2: inactive_file).
  const cache =
    mem?.stats?.inactive_file ?? mem?.stats?.total_inactive_file ?? mem?.stats?.cache ?? 0
  let blockRead = 0
  let blockWrite = 0
  for (const entry of s.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = entry.op.toLowerCase()
    if (op === 'read') blockRead += entry.value
    else if (op === 'write') blockWrite += entry.value
  }
  let rx = 0
  let tx = 0
  for (const net of Object.values(s.networks ?? {})) {
    rx += net.rx_bytes ?? 0
    tx += net.tx_bytes ?? 0
  }
  return {
    at: s.read === undefined ? now : Date.parse(s.read) || now,
    cpuPercent,
    memoryBytes: Math.max(0, (mem?.usage ?? 0) - cache),
    memoryLimitBytes: mem?.limit ?? 0,
    pids: s.pids_stats?.current ?? 0,
    blockReadBytes: blockRead,
    blockWriteBytes: blockWrite,
    netRxBytes: rx,
    netTxBytes: tx,
  }
}

/** Samples (about one a second) from the Engine's stats stream until the signal fires. */
export async function* streamStats(
  container: Docker.Container,
  signal: AbortSignal,
): AsyncGenerator<ResourceSample> {
  if (signal.aborted) return
  let stream: Readable
  try {
    stream = (await container.stats({ stream: true })) as unknown as Readable
  } catch (error) {
    throw sandboxError(container.id, 'reading resource stats', error)
  }
  const stop = (): void => {
    stream.destroy()
  }
  signal.addEventListener('abort', stop, { once: true })
  let pending = ''
  let previous: EngineStats['precpu_stats']
  let afterGap = false
  try {
    for await (const chunk of stream) {
      pending += String(chunk)
      let eol = pending.indexOf('\n')
      while (eol >= 0) {
        const line = pending.slice(0, eol).trim()
        pending = pending.slice(eol + 1)
        eol = pending.indexOf('\n')
        if (line === '') continue
        const doc = JSON.parse(line) as EngineStats
        if (isEmpty(doc)) {
          // The Engine sends a document with only the name and id when it could not collect a
          // sample: the container stopped, or a transient error under load. Only a stopped one ends
          // the stream. After a gap the next document's "previous" CPU reading is empty: use ours.
          if (!(await isRunning(container))) return
          afterGap = true
          continue
        }
        if (afterGap && previous !== undefined) doc.precpu_stats = previous
        afterGap = false
        previous = doc.cpu_stats
        yield toSample(doc)
      }
    }
  } catch (error) {
    // Aborting destroys the stream, which can surface as an error: that is the normal end.
    if (isAborted(signal)) return
    throw sandboxError(container.id, 'reading resource stats', error)
  } finally {
    signal.removeEventListener('abort', stop)
    stream.destroy()
  }
}

/** The Engine's "no sample" document: zero time, no memory limit, no pid count. */
function isEmpty(doc: EngineStats): boolean {
  return (
    (doc.read === undefined || doc.read.startsWith('0001-')) &&
    !doc.memory_stats?.limit &&
    !doc.pids_stats?.current
  )
}

async function isRunning(container: Docker.Container): Promise<boolean> {
  try {
    const info = await container.inspect()
    return info.State.Running
  } catch {
    return false
  }
}

/** Read through a call: the compiler narrows `signal.aborted` as if it could not change. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted
}
