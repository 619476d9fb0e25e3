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
 * Candidate endpoints: explicit settings first (DOCKER_HOST, then config), then the sockets
 * Docker, Docker Desktop, rootless Docker and Podman create. Only existing sockets are listed,
 * except explicit ones, which are always tried so their failure is reported.
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
    if (env.DOCKER_HOST !== undefined && env.DOCKER_HOST !== '')
      add(env.DOCKER_HOST, 'DOCKER_HOST', true)
    if (options.socket !== undefined) add(explicitUrl(options.socket), '[docker] socket', true)
    add('unix:///var/run/docker.sock', 'standard socket')
    add(`unix://${path.join(os.homedir(), '.docker/run/docker.sock')}`, 'Docker Desktop socket')
    const runtimeDir = env.XDG_RUNTIME_DIR ?? `/run/user/${process.getuid?.() ?? 1000}`
    add(`unix://${path.join(runtimeDir, 'docker.sock')}`, 'rootless Docker socket')
  } else {
    if (options.socket !== undefined) add(explicitUrl(options.socket), '[docker] socket', true)
    if (env.CONTAINER_HOST !== undefined && env.CONTAINER_HOST !== '')
      add(env.CONTAINER_HOST, 'CONTAINER_HOST', true)
    const runtimeDir = env.XDG_RUNTIME_DIR ?? `/run/user/${process.getuid?.() ?? 1000}`
    add(`unix://${path.join(runtimeDir, 'podman/podman.sock')}`, 'rootless Podman socket')
    add('unix:///run/podman/podman.sock', 'Podman socket')
  }
  return found
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
