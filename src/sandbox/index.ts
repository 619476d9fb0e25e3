import type { Config } from '../config/schema.js'
import { SafeCoderError } from '../shared/errors.js'
import { DockerBackend } from './docker/backend.js'
import type { DockerBackendOptions } from './docker/options.js'
import { createMicrovmBackend } from './microvm/create.js'
import type { BackendKind, ProbeResult, SandboxBackend } from './types.js'

export * from './types.js'
export { toWorkspacePath } from './workspace-path.js'
export {
  NO_SPACE,
  attachWorkspaceDisk,
  createWorkspaceDisk,
  describeDiskFull,
  detachWorkspaceDisk,
} from './disk/index.js'
export type { WorkspaceDisk, WorkspaceDiskPlan } from './disk/index.js'
export { DOCKER_DISK_KEY } from './docker/options.js'
export { placedBackend, selectSessionBackend } from './session-backend.js'

/** Auto-detection order (DESIGN.md §3): strongest isolation first, never the host. */
export const DETECTION_ORDER: BackendKind[] = ['firecracker', 'qemu', 'docker', 'podman']

/** The backend for one kind, configured from the merged configuration. */
export function createBackend(
  kind: BackendKind,
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
): SandboxBackend {
  switch (kind) {
    case 'docker':
    case 'podman':
      return new DockerBackend(dockerBackendOptions(kind, config, env))
    case 'qemu':
    case 'firecracker':
      return createMicrovmBackend(kind, config, env)
  }
}

/** The [docker] section as the Docker-API backend takes it. */
export function dockerBackendOptions(
  kind: 'docker' | 'podman',
  config: Config,
  env: NodeJS.ProcessEnv,
): DockerBackendOptions {
  return {
    kind,
    image: config.docker.image,
    cpus: config.docker.cpus,
    memoryMb: config.docker.memory_mb,
    pidsLimit: config.docker.pids_limit,
    tmpSizeMb: config.docker.tmp_size_mb,
    diskMb: config.docker.disk_mb,
    readOnlyRoot: config.docker.read_only_root,
    autoPull: config.docker.auto_pull,
    runtime: config.docker.runtime,
    socket: config.docker.socket,
    agent: config.docker.agent,
    env,
  }
}

/** Every backend's probe, in detection order, for `doctor`. */
export async function probeAll(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
  signal?: AbortSignal,
): Promise<ProbeResult[]> {
  return (await probeBackends(config, env, signal)).map((p) => p.probe)
}

async function probeBackends(
  config: Config,
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
): Promise<{ probe: ProbeResult; backend?: SandboxBackend }[]> {
  return Promise.all(
    DETECTION_ORDER.map(async (kind) => {
      const backend = createBackend(kind, config, env)
      return { probe: await backend.probe(signal), backend }
    }),
  )
}

/**
 * The backend to use: the configured one, or with "auto" the first available in detection
 * order. Never falls back to the host: when nothing is usable, says what each one lacks.
 */
export async function selectBackend(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
  signal?: AbortSignal,
): Promise<{ backend: SandboxBackend; probe: ProbeResult }> {
  const wanted = config.isolation.backend
  if (wanted !== 'auto') {
    const backend = createBackend(wanted, config, env)
    const probe = await backend.probe(signal)
    if (!probe.available) {
      throw new SafeCoderError(
        'BACKEND_UNAVAILABLE',
        `The ${wanted} backend is unavailable: ${probe.reason ?? 'unknown reason'}.`,
        {
          hint: probe.hint,
          data: { backend: wanted, details: probe.details },
        },
      )
    }
    return { backend, probe }
  }
  const probed = await probeBackends(config, env, signal)
  for (const { probe, backend } of probed) {
    // Software emulation is never picked for the user: it is slow and not hardware isolation.
    if (probe.available && probe.degraded === undefined && backend !== undefined)
      return { backend, probe }
  }
  const lines = probed
    .map(({ probe }) => `  ${probe.kind}: ${probe.reason ?? 'unavailable'}`)
    .join('\n')
  throw new SafeCoderError(
    'BACKEND_UNAVAILABLE',
    `No sandbox backend is available on this machine:\n${lines}`,
    {
      hint: 'Install and start Docker (Debian/Ubuntu: sudo apt-get install docker.io), then run `safe-coder doctor`.',
      data: { probes: probed.map((p) => p.probe) },
    },
  )
}
