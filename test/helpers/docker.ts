import type Docker from 'dockerode'
import { connectEngine, findEngineEndpoints } from '../../src/sandbox/docker/connect.js'

/**
 * A client for a Docker daemon that answers, or an error: integration tests fail loudly
 * rather than skip when there is no daemon, so CI cannot pass by testing nothing.
 */
export async function requireDocker(): Promise<Docker> {
  return requireEngine('docker')
}

/** The same for either engine: Podman through its Docker-compatible API socket. */
export async function requireEngine(kind: 'docker' | 'podman'): Promise<Docker> {
  const endpoints = findEngineEndpoints(kind)
  const failures: string[] = []
  for (const endpoint of endpoints) {
    const docker = connectEngine(endpoint)
    try {
      await answersWithin(docker, 5000)
      return docker
    } catch (error) {
      failures.push(`${endpoint.url} (${error instanceof Error ? error.message : String(error)})`)
    }
  }
  const name = kind === 'podman' ? 'Podman' : 'Docker'
  const tried = failures.length > 0 ? failures.join('; ') : `no ${name} socket found`
  throw new Error(
    kind === 'podman'
      ? `These tests need the Podman API service: bash scripts/provision installs Podman and starts it at /run/podman/podman.sock (or set CONTAINER_HOST). Tried: ${tried}`
      : `These tests need a Docker daemon: start dockerd (bash scripts/provision does it) or set DOCKER_HOST. Tried: ${tried}`,
  )
}

export interface RunResult {
  exitCode: number
  /** stdout and stderr together, as a terminal would show them. */
  output: string
}

/**
 * Runs one command in a throwaway container of `image` (no network) and returns its exit
 * code and output. The container is removed whatever happens.
 */
export async function runInImage(
  docker: Docker,
  image: string,
  command: string[],
  options: { user?: string } = {},
): Promise<RunResult> {
  const container = await docker.createContainer({
    Image: image,
    Cmd: command,
    Tty: true,
    ...(options.user === undefined ? {} : { User: options.user }),
    Labels: { 'safe-coder-test': 'run-in-image' },
    HostConfig: { NetworkMode: 'none' },
  })
  try {
    await container.start()
    const status = (await container.wait()) as { StatusCode: number }
    // follow: a finished container's log as a stream; without it dockerode JSON-parses the body.
    const logs = await container.logs({ stdout: true, stderr: true, follow: true })
    const chunks: Buffer[] = []
    for await (const chunk of logs) chunks.push(Buffer.from(chunk as Uint8Array))
    const output = Buffer.concat(chunks).toString('utf8').replace(/\r\n/g, '\n')
    return { exitCode: status.StatusCode, output }
  } finally {
    await container.remove({ force: true })
  }
}

async function answersWithin(docker: Docker, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`no answer within ${ms} ms`))
    }, ms)
  })
  try {
    await Promise.race([docker.ping(), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The id of the first running container carrying `label` (e.g. `safe-coder.session=ID`),
 * polling while a CLI process starts it (copy-in, the session's disk, the container); throws
 * when none appears within 5 minutes, a hang detector rather than a budget a loaded machine
 * could exceed.
 */
export async function waitForContainer(docker: Docker, label: string): Promise<string> {
  for (let i = 0; i < 3000; i++) {
    const found = (await docker.listContainers({ filters: { label: [label] } }))[0]?.Id
    if (found !== undefined) return found
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`No running container labelled ${label} appeared within 5 minutes.`)
}

/** Everything still carrying a session's label: containers (any state) and networks. */
export async function sessionLeftovers(docker: Docker, sessionId: string): Promise<string[]> {
  const filters = { label: [`safe-coder.session=${sessionId}`] }
  const containers = await docker.listContainers({ all: true, filters })
  const networks = await docker.listNetworks({ filters })
  return [...containers.map((c) => c.Names.join(',')), ...networks.map((n) => n.Name)]
}
