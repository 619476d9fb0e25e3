import type Docker from 'dockerode'
import { errnoOf } from '../../shared/errors.js'
import type { ProbeResult } from '../types.js'
import { connectEngine, findEngineEndpoints, type EngineEndpoint } from './connect.js'
import { engineMessage } from './engine-errors.js'
import type { DockerBackendOptions } from './options.js'
import { backingFilesystem } from './root-layer.js'

const PROBE_TIMEOUT_MS = 3000
/**
 * An engine that answered its ping may still take seconds to describe itself: Podman's version
 * and info run its helper binaries (conmon, the runtime), which took 1–3 s each on a loaded
 * two-core host. Liveness is the ping's job; this only bounds a hung engine.
 */
const DESCRIBE_TIMEOUT_MS = 20_000

export interface ProbedEngine {
  result: ProbeResult
  /** A client for the endpoint that answered. */
  docker?: Docker
}

/** Finds a Docker-API engine that answers and says exactly why not when none does. */
export async function probeEngine(
  options: DockerBackendOptions,
  signal?: AbortSignal,
): Promise<ProbedEngine> {
  const endpoints = findEngineEndpoints(options.kind, {
    socket: options.socket,
    env: options.env ?? process.env,
  })
  const name = options.kind === 'podman' ? 'Podman' : 'Docker'
  if (endpoints.length === 0) {
    return unavailable(options.kind, `no ${name} socket found`, installHint(options.kind), {
      tried: [],
    })
  }
  const failures: string[] = []
  let firstFailure: { reason: string; hint: string } | undefined
  for (const endpoint of endpoints) {
    signal?.throwIfAborted()
    const docker = connectEngine(endpoint)
    try {
      await withTimeout(docker.ping(), PROBE_TIMEOUT_MS)
      const [version, info] = await withTimeout(
        Promise.all([docker.version(), docker.info() as Promise<EngineInfo>]),
        DESCRIBE_TIMEOUT_MS,
      )
      const components = version.Components as { Name: string }[] | undefined
      const isPodman = (components ?? []).some((c) => /podman/i.test(c.Name))
      const engine = isPodman ? 'Podman' : 'Docker Engine'
      const runtimes = Object.keys(info.Runtimes ?? {})
      const rootless = (info.SecurityOptions ?? []).some((o) => o.includes('rootless'))
      return {
        docker,
        result: {
          kind: options.kind,
          available: true,
          summary: `${engine} ${version.Version} (API ${version.ApiVersion}) at ${endpoint.url}`,
          details: {
            endpoint: endpoint.url,
            endpointSource: endpoint.source,
            engine,
            version: version.Version,
            apiVersion: version.ApiVersion,
            os: version.Os,
            arch: version.Arch,
            kernel: version.KernelVersion,
            runtimes,
            defaultRuntime: info.DefaultRuntime,
            rootless,
            cgroupVersion: info.CgroupVersion,
            storageDriver: info.Driver,
            backingFilesystem: backingFilesystem(info.DriverStatus),
          },
        },
      }
    } catch (error) {
      const failure = describeFailure(endpoint, error, options.kind)
      firstFailure ??= failure
      failures.push(`${endpoint.url} (${endpoint.source}): ${failure.reason}`)
    }
  }
  const reason = firstFailure?.reason ?? 'no engine answered'
  return unavailable(options.kind, reason, firstFailure?.hint ?? installHint(options.kind), {
    tried: failures,
  })
}

interface EngineInfo {
  Runtimes?: Record<string, unknown>
  DefaultRuntime?: string
  SecurityOptions?: string[]
  CgroupVersion?: string
  Driver?: string
  DriverStatus?: unknown
}

function unavailable(
  kind: 'docker' | 'podman',
  reason: string,
  hint: string,
  details: Record<string, unknown>,
): ProbedEngine {
  const name = kind === 'podman' ? 'Podman' : 'Docker'
  return {
    result: { kind, available: false, summary: `${name}: unavailable`, reason, hint, details },
  }
}

function describeFailure(
  endpoint: EngineEndpoint,
  error: unknown,
  kind: 'docker' | 'podman',
): { reason: string; hint: string } {
  const where = endpoint.url.replace(/^unix:\/\//, '')
  const errno = errnoOf(error)
  const other = 'or choose another backend with --backend.'
  switch (errno) {
    case 'ECONNREFUSED':
      return {
        reason: `cannot connect to ${where} (ECONNREFUSED)`,
        hint:
          kind === 'podman'
            ? `Start the Podman API service (systemctl --user start podman.socket), ${other}`
            : `Start the Docker daemon (sudo systemctl start docker, or dockerd), ${other}`,
      }
    case 'EACCES':
    case 'EPERM':
      return {
        reason: `permission denied on ${where} (${errno})`,
        hint: `Add your user to the docker group (sudo usermod -aG docker $USER, then log in again), use rootless Docker or Podman, ${other}`,
      }
    case 'ENOENT':
      return { reason: `no socket at ${where} (ENOENT)`, hint: installHint(kind) }
    case 'ETIMEDOUT':
      return {
        reason: `${where} did not answer within ${timeoutOf(error) / 1000} s`,
        hint: `Check that the daemon is healthy (docker info), ${other}`,
      }
    default:
      return {
        reason: `${where}: ${engineMessage(error)}${errno === undefined ? '' : ` (${errno})`}`,
        hint: `Check the engine with \`docker info\`, ${other}`,
      }
  }
}

function installHint(kind: 'docker' | 'podman'): string {
  return kind === 'podman'
    ? 'Install Podman and start its API socket (systemctl --user enable --now podman.socket), or choose another backend with --backend.'
    : 'Install Docker (Debian/Ubuntu: sudo apt-get install docker.io) and start it, set DOCKER_HOST, or choose another backend with --backend.'
}

function timeoutOf(error: unknown): number {
  const ms = (error as { timeoutMs?: unknown }).timeoutMs
  return typeof ms === 'number' ? ms : PROBE_TIMEOUT_MS
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT', timeoutMs: ms }))
    }, ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error instanceof Error ? error : new Error(String(error)))
      },
    )
  })
}
