import { existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Docker from 'dockerode'
import type { BackendKind } from '../types.js'

/** Where a Docker-API engine may be listening, in the order we try them. */
export interface EngineEndpoint {
  /** `unix:///path`, `tcp://host:port` or `npipe://…`, as in DOCKER_HOST. */
  url: string
  /** Who told us about it: "DOCKER_HOST", "[docker] socket", "standard socket", … */
  source: string
  kind: Extract<BackendKind, 'docker' | 'podman'>
}

export interface EndpointOptions {
  /** `[docker] socket` from config. */
  socket?: string | undefined
  env?: NodeJS.ProcessEnv
}

/**
 * Candidate endpoints. An explicit setting (DOCKER_HOST or `[docker] socket`; for Podman,
 * `[docker] socket` or CONTAINER_HOST) is the only candidate, like the docker CLI: silently
 * using another engine than the one named would be a surprise. Otherwise the sockets Docker,
 * Docker Desktop, rootless Docker and Podman create, where they exist.
 */
export function findEngineEndpoints(
  kind: 'docker' | 'podman',
  options: EndpointOptions = {},
): EngineEndpoint[] {
  const env = options.env ?? process.env
  const found: EngineEndpoint[] = []
  const add = (url: string, source: string, explicit = false): void => {
    const socketPath = url.startsWith('unix://') ? url.slice('unix://'.length) : undefined
    if (!explicit && socketPath !== undefined && !existsSync(socketPath)) return
    if (found.some((e) => e.url === url)) return
    found.push({ url, source, kind })
  }
  const explicitUrl = (value: string): string => (value.includes('://') ? value : `unix://${value}`)

  if (kind === 'docker') {
    if (options.socket !== undefined) add(explicitUrl(options.socket), '[docker] socket', true)
    else if (env.DOCKER_HOST !== undefined && env.DOCKER_HOST !== '') {
      add(env.DOCKER_HOST, 'DOCKER_HOST', true)
    }
    if (found.length > 0) return found
    add('unix:///var/run/docker.sock', 'standard socket')
    add(`unix://${path.join(os.homedir(), '.docker/run/docker.sock')}`, 'Docker Desktop socket')
    add(`unix://${path.join(runtimeDir(env), 'docker.sock')}`, 'rootless Docker socket')
  } else {
    if (options.socket !== undefined) add(explicitUrl(options.socket), '[docker] socket', true)
    else if (env.CONTAINER_HOST !== undefined && env.CONTAINER_HOST !== '') {
      add(env.CONTAINER_HOST, 'CONTAINER_HOST', true)
    }
    if (found.length > 0) return found
    add(`unix://${path.join(runtimeDir(env), 'podman/podman.sock')}`, 'rootless Podman socket')
    add('unix:///run/podman/podman.sock', 'Podman socket')
  }
  return found
}

function runtimeDir(env: NodeJS.ProcessEnv): string {
  return env.XDG_RUNTIME_DIR ?? `/run/user/${process.getuid?.() ?? 1000}`
}

/** A dockerode client for one endpoint. */
export function connectEngine(endpoint: EngineEndpoint): Docker {
  const url = endpoint.url
  if (url.startsWith('unix://')) return new Docker({ socketPath: url.slice('unix://'.length) })
  if (url.startsWith('npipe://')) return new Docker({ socketPath: url.slice('npipe:'.length) })
  const parsed = new URL(url.replace(/^tcp:/, 'http:'))
  const tls = process.env.DOCKER_TLS_VERIFY === '1'
  return new Docker({
    host: parsed.hostname,
    port: parsed.port === '' ? (tls ? 2376 : 2375) : Number(parsed.port),
    protocol: tls ? 'https' : 'http',
  })
}
