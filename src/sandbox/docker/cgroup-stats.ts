import type Docker from 'dockerode'
import { sleep } from '../../shared/abort.js'
import { errnoOf } from '../../shared/errors.js'
import type { ResourceSample } from '../types.js'
import {
  hostRoots,
  locateCgroup,
  readCgroup,
  type CgroupFiles,
  type CgroupReading,
  type HostRoots,
} from './cgroup-files.js'
import { isGone, sandboxError } from './engine-errors.js'
import { streamStats } from './stats.js'

/** How often the cgroup files are read: the Engine's own stats period. */
export const SAMPLE_INTERVAL_MS = 1000

export interface SampleOptions {
  intervalMs?: number
  roots?: HostRoots
}

/**
 * Samples about once a second until the signal fires or the container stops. A container of a
 * local engine is read straight from its cgroup files (a few milliseconds, whatever the engine
 * is busy with); anything else — a remote engine, another pid namespace, files this user cannot
 * read — through the Engine's stats stream.
 */
export async function* sampleStats(
  container: Docker.Container,
  signal: AbortSignal,
  options: SampleOptions = {},
): AsyncGenerator<ResourceSample> {
  if (signal.aborted) return
  const files = await findCgroup(container, options.roots ?? hostRoots)
  if (files === undefined) {
    yield* streamStats(container, signal)
    return
  }
  yield* cgroupSamples(container, files, signal, options)
}

async function* cgroupSamples(
  container: Docker.Container,
  first: CgroupFiles,
  signal: AbortSignal,
  options: SampleOptions,
): AsyncGenerator<ResourceSample> {
  const interval = options.intervalMs ?? SAMPLE_INTERVAL_MS
  let files: CgroupFiles | undefined = first
  let previous: { at: number; cpuNanos: number } | undefined
  while (files !== undefined && !signal.aborted) {
    let reading: CgroupReading
    try {
      reading = await readCgroup(files)
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT')
        throw sandboxError(container.id, 'reading resource stats', error)
      // The cgroup went with the container's process: over if it stopped, a new pid if it restarted.
      files = await findCgroup(container, files.roots)
      previous = undefined
      continue
    }
    const at = performance.now()
    const cpuPercent =
      previous === undefined || at <= previous.at
        ? 0
        : ((reading.cpuNanos - previous.cpuNanos) / ((at - previous.at) * 1e6)) * 100
    previous = { at, cpuNanos: reading.cpuNanos }
    const { cpuNanos: _cpu, ...levels } = reading
    yield { at: Date.now(), cpuPercent: Math.max(0, cpuPercent), ...levels }
    await sleep(interval, signal).catch(() => undefined)
  }
}

/** The running container's cgroup files on this host, or undefined (stopped, or not local). */
async function findCgroup(
  container: Docker.Container,
  roots: HostRoots,
): Promise<CgroupFiles | undefined> {
  let state: Docker.ContainerInspectInfo['State']
  try {
    state = (await container.inspect()).State
  } catch (error) {
    if (isGone(error)) return undefined
    throw sandboxError(container.id, 'reading resource stats', error)
  }
  if (!state.Running) return undefined
  return locateCgroup(state.Pid, container.id, roots)
}
