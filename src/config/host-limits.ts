import os from 'node:os'
import type { Config } from './schema.js'
import type { ConfigOrigin } from './types.js'
import { configError, type ConfigProblem } from './validate.js'

/** What this machine has: the most CPUs and memory a sandbox on it can be given. */
export interface HostLimits {
  cpus: number
  memoryMb: number
}

/** This machine's CPUs and memory. */
export function hostLimits(): HostLimits {
  return { cpus: os.availableParallelism(), memoryMb: Math.floor(os.totalmem() / 1024 / 1024) }
}

interface Bound {
  key: readonly [section: 'docker' | 'vm', key: string]
  of: keyof HostLimits
  unit: string
}

const bounds: readonly Bound[] = [
  { key: ['docker', 'cpus'], of: 'cpus', unit: 'CPUs' },
  { key: ['docker', 'memory_mb'], of: 'memoryMb', unit: 'MiB of memory' },
  { key: ['vm', 'vcpu_count'], of: 'cpus', unit: 'CPUs' },
  { key: ['vm', 'mem_size_mib'], of: 'memoryMb', unit: 'MiB of memory' },
]

/**
 * Limits set above what this machine has are config errors naming their file, variable or
 * flag, not an engine's error later (Docker's "range of CPUs is from 0.01 to 2.00"). Defaults
 * are left alone, and so are a remote engine's limits (`[docker] socket` over TCP or SSH):
 * that machine's size is not known here.
 */
export function assertWithinHost(
  config: Config,
  origins: Record<string, ConfigOrigin>,
  host: HostLimits,
): void {
  const remote = isRemoteEngine(config.docker.socket)
  for (const { key, of, unit } of bounds) {
    const [section, name] = key
    if (section === 'docker' && remote) continue
    const origin = origins[`${section}.${name}`]
    const value = (config[section] as Record<string, unknown>)[name]
    if (origin === undefined || origin.kind === 'default' || typeof value !== 'number') continue
    if (value <= host[of]) continue
    const problem: ConfigProblem = {
      key: `[${section}] ${name}`,
      expected: `at most ${host[of]} (this machine has ${host[of]} ${unit})`,
      found: `${value} (a number)`,
      text: `[${section}] ${name} must be at most ${host[of]} (this machine has ${host[of]} ${unit}), found ${value}`,
    }
    throw configError(origin, [problem])
  }
}

function isRemoteEngine(socket: string | undefined): boolean {
  if (socket === undefined || !socket.includes('://')) return false
  return !socket.startsWith('unix://') && !socket.startsWith('npipe://')
}
