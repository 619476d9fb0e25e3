import { constants } from 'node:fs'
import { access, realpath, stat } from 'node:fs/promises'
import path from 'node:path'
import type { Duplex } from 'node:stream'
import { fileURLToPath } from 'node:url'
import type Docker from 'dockerode'
import type { ContainerCreateOptions, MountSettings } from 'dockerode'
import type { ProxyEvent } from '../../network/types.js'
import { SafeCoderError } from '../../shared/errors.js'
import { StreamDemuxer } from './demux.js'
import { engineMessage } from './engine-errors.js'

/** Where the sandbox finds its proxy: a network alias on the internal network, and a port. */
export const PROXY_ALIAS = 'egress'
export const PROXY_PORT = 3128

const NODE_IN = '/opt/safe-coder/node'
const DIST_IN = '/opt/safe-coder/dist'
const POLICY_DIR_IN = '/etc/safe-coder/policy'
/** A proxy event line longer than this is dropped (and reported), never buffered further. */
export const MAX_EVENT_LINE = 64 * 1024
const STDERR_TAIL = 4096

/** Host files the sidecar runs: the host's Node binary and Safe Coder's built proxy. */
export interface ProxyAssets {
  node: string
  dist: string
  /** package.json next to dist/: it makes Node load dist/*.js as ES modules. */
  packageJson: string
}

/** dist/ of this package, whether this file runs from src/ (tests) or dist/ (installed). */
export function defaultDistDir(): string {
  return path.join(fileURLToPath(new URL('../../../', import.meta.url)), 'dist')
}

/** The proxy's files, or SANDBOX_FAILED naming the missing one and how to get it. */
export async function locateProxy(dist = defaultDistDir()): Promise<ProxyAssets> {
  const main = path.join(dist, 'network', 'proxy-main.js')
  const packageJson = path.join(path.dirname(dist), 'package.json')
  const node = await realpath(process.execPath).catch(() => process.execPath)
  const missing = async (file: string): Promise<boolean> =>
    !((await stat(file).catch(() => undefined))?.isFile() ?? false)
  if (await missing(node)) {
    throw new SafeCoderError(
      'SANDBOX_FAILED',
      `Cannot start the egress proxy: ${node} is missing.`,
      {
        hint: 'The proxy runs on the Node binary running Safe Coder; reinstall Node or run Safe Coder with a Node that is installed.',
        data: { path: node },
      },
    )
  }
  for (const file of [main, packageJson]) {
    if (await missing(file)) {
      throw new SafeCoderError(
        'SANDBOX_FAILED',
        `Cannot start the egress proxy: ${file} is missing.`,
        {
          hint: `Build Safe Coder first: run \`npm run build\` in ${path.dirname(dist)} (the proxy runs from its dist/).`,
          data: { path: file },
        },
      )
    }
  }
  // The proxy runs as nobody: its files must be readable by others (a umask of 077 breaks it).
  const mode = async (file: string): Promise<number> => (await stat(file)).mode
  for (const [file, need] of [
    [node, 0o005],
    [dist, 0o005],
    [main, 0o004],
  ] as const) {
    if (((await mode(file)) & need) === need) continue
    throw new SafeCoderError(
      'SANDBOX_FAILED',
      `Cannot start the egress proxy: ${file} is not readable by other users.`,
      {
        hint: `The proxy runs as an unprivileged user: \`chmod -R o+rX ${file}\`, or rebuild with umask 022.`,
        data: { path: file },
      },
    )
  }
  return { node, dist, packageJson }
}

/**
 * The proxy runs as nobody: the policy file and its folder must be readable by others. Checked
 * here so the failure names the file instead of a proxy that never becomes ready.
 */
export async function assertPolicyReadable(policyFile: string): Promise<void> {
  const fail = (why: string): SafeCoderError =>
    new SafeCoderError('SANDBOX_FAILED', `Cannot use the network policy ${policyFile}: ${why}.`, {
      hint: 'Write the policy (JSON: mode, allow, deny) with mode 0644 in a folder of its own with mode 0755 before creating the sandbox.',
      data: { path: policyFile },
    })
  const file = await stat(policyFile).catch(() => undefined)
  if (file?.isFile() !== true) throw fail('no such file')
  await access(policyFile, constants.R_OK).catch(() => {
    throw fail('it cannot be read')
  })
  const dir = await stat(path.dirname(policyFile))
  if ((file.mode & 0o004) === 0 || (dir.mode & 0o005) !== 0o005) {
    throw fail('the egress proxy runs as an unprivileged user and cannot read it')
  }
}

export interface SidecarInput {
  name: string
  image: string
  labels: Record<string, string>
  assets: ProxyAssets
  policyFile: string
  /** The network the sandbox shares with the proxy (the proxy's alias lives there). */
  internalNetwork: string
  /** CPUs it may use: the sandbox's own share, since it carries all of its traffic. */
  cpus: number
  runtime?: string | undefined
}

/** The proxy container: hardened like the sandbox, everything it runs mounted read-only. */
export function buildSidecarSpec(input: SidecarInput): ContainerCreateOptions {
  const { assets } = input
  const ro = (Source: string, Target: string): MountSettings => ({
    Type: 'bind',
    Source,
    Target,
    ReadOnly: true,
  })
  return {
    name: input.name,
    Image: input.image,
    Entrypoint: [NODE_IN],
    Cmd: [`${DIST_IN}/network/proxy-main.js`],
    User: '65534:65534',
    WorkingDir: '/tmp',
    Env: [
      `SAFE_CODER_POLICY_FILE=${POLICY_DIR_IN}/${path.basename(input.policyFile)}`,
      `SAFE_CODER_PROXY_PORT=${PROXY_PORT}`,
      'HOME=/tmp',
    ],
    Labels: input.labels,
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    HostConfig: {
      // The folder, not the file: the host replaces the file by rename, which a file mount misses.
      Mounts: [
        ro(assets.node, NODE_IN),
        ro(assets.dist, DIST_IN),
        ro(assets.packageJson, '/opt/safe-coder/package.json'),
        ro(path.dirname(input.policyFile), POLICY_DIR_IN),
      ],
      NetworkMode: input.internalNetwork,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Privileged: false,
      Init: true,
      IpcMode: 'private',
      PidsLimit: 64,
      Memory: 256 * 1024 * 1024,
      MemorySwap: 256 * 1024 * 1024,
      NanoCpus: Math.round(input.cpus * 1e9),
      ReadonlyRootfs: true,
      Tmpfs: { '/tmp': 'rw,nosuid,nodev,noexec,size=16m,mode=1777' },
      // Events are read from the attach stream; the log is only for `docker logs`, kept small.
      LogConfig: { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '1' } },
      ...(input.runtime === undefined ? {} : { Runtime: input.runtime }),
      AutoRemove: false,
      RestartPolicy: { Name: 'no' },
    },
    NetworkingConfig: {
      EndpointsConfig: { [input.internalNetwork]: { Aliases: [PROXY_ALIAS] } },
    },
  }
}

/**
 * Splits the proxy's stdout into JSON lines and turns each into a ProxyEvent. A malformed,
 * unknown or oversized line becomes an `error` event; nothing here throws.
 */
export class ProxyEventReader {
  private pending = ''
  private skipping = false

  constructor(
    private readonly deliver: (event: ProxyEvent) => void,
    private readonly maxLine = MAX_EVENT_LINE,
  ) {}

  push(chunk: Buffer | string): void {
    this.pending += String(chunk)
    let eol = this.pending.indexOf('\n')
    while (eol >= 0) {
      const line = this.pending.slice(0, eol)
      this.pending = this.pending.slice(eol + 1)
      if (this.skipping) this.skipping = false
      else this.line(line)
      eol = this.pending.indexOf('\n')
    }
    if (this.pending.length > this.maxLine) {
      if (!this.skipping) this.deliver(oversized(this.maxLine))
      this.skipping = true
      this.pending = ''
    }
  }

  private line(text: string): void {
    if (text.length > this.maxLine) this.deliver(oversized(this.maxLine))
    else if (text.trim() !== '') this.deliver(parseProxyEvent(text))
  }
}

function oversized(max: number): ProxyEvent {
  return { type: 'error', message: `dropped a proxy event line longer than ${max} bytes` }
}

/** One line of the proxy's stdout as an event; anything else as an `error` event. */
export function parseProxyEvent(line: string): ProxyEvent {
  const preview = line.length > 200 ? `${line.slice(0, 200)}…` : line
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return { type: 'error', message: `malformed proxy event line: ${preview}` }
  }
  return isProxyEvent(value)
    ? value
    : { type: 'error', message: `unrecognised proxy event: ${preview}` }
}

function isProxyEvent(value: unknown): value is ProxyEvent {
  if (typeof value !== 'object' || value === null || !('type' in value)) return false
  const v = value as Record<string, unknown>
  switch (v.type) {
    case 'ready':
      return typeof v.port === 'number'
    case 'error':
      return typeof v.message === 'string'
    case 'allowed':
    case 'denied':
      return (
        typeof v.host === 'string' &&
        typeof v.port === 'number' &&
        (v.kind === 'connect' || v.kind === 'http') &&
        ['bytesIn', 'bytesOut', 'durationMs', 'at'].every((k) => typeof v[k] === 'number')
      )
    default:
      return false
  }
}

/** A started proxy container whose events flow to the callback until `detach`. */
export interface RunningSidecar {
  id: string
  /** Its address on the internal network. */
  address: string
  detach(): void
}

/**
 * Creates and starts the proxy, attached to `networks` (the first at creation), and waits for
 * its `ready` line. Every event goes to `onEvent`; an unexpected exit becomes an `error` event.
 * On failure the container is left for the caller's label-based cleanup.
 */
export async function startSidecar(
  docker: Docker,
  input: SidecarInput & { egressNetwork: string },
  options: { onEvent?: (event: ProxyEvent) => void; readyMs: number; signal?: AbortSignal },
): Promise<RunningSidecar> {
  const container = await docker.createContainer(buildSidecarSpec(input))
  await docker.getNetwork(input.egressNetwork).connect({ Container: container.id })
  const stream = (await container.attach({
    stream: true,
    stdout: true,
    stderr: true,
  })) as unknown as Duplex
  let stderr = ''
  let detached = false
  let onReady: (() => void) | undefined
  let onEnd: (() => void) | undefined
  const emit = (event: ProxyEvent): void => {
    if (event.type === 'ready') onReady?.()
    try {
      options.onEvent?.(event)
    } catch {
      // A listener's failure is its own; the proxy keeps reporting.
    }
  }
  const reader = new ProxyEventReader(emit)
  const demux = new StreamDemuxer((which, chunk) => {
    if (which === 'stdout') reader.push(chunk)
    else stderr = (stderr + String(chunk)).slice(-STDERR_TAIL)
  })
  stream.on('data', (data: Buffer) => {
    demux.push(data)
  })
  stream.on('error', () => undefined)
  stream.once('close', () => {
    onEnd?.()
    if (!detached) emit({ type: 'error', message: `the egress proxy stopped${tail(stderr)}` })
  })
  const detach = (): void => {
    detached = true
    stream.destroy()
  }
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(notReady(`it did not report ready within ${options.readyMs / 1000} s`, stderr))
      }, options.readyMs)
      const abort = (): void => {
        reject(new SafeCoderError('ABORTED', 'Starting the egress proxy was cancelled.'))
      }
      options.signal?.addEventListener('abort', abort, { once: true })
      const settle = (): void => {
        clearTimeout(timer)
        options.signal?.removeEventListener('abort', abort)
      }
      onReady = () => {
        settle()
        resolve()
      }
      onEnd = () => {
        settle()
        reject(notReady('it exited before it was ready', stderr))
      }
      container.start().catch((error: unknown) => {
        settle()
        reject(notReady(`the engine could not start it: ${engineMessage(error)}`, stderr))
      })
    })
    const info = await container.inspect()
    const address = info.NetworkSettings.Networks[input.internalNetwork]?.IPAddress ?? ''
    return { id: container.id, address, detach }
  } catch (error) {
    detach()
    throw error
  }
}

function tail(stderr: string): string {
  const text = stderr.trim()
  return text === '' ? '' : `: ${text.split('\n').slice(-5).join(' | ')}`
}

function notReady(why: string, stderr: string): SafeCoderError {
  return new SafeCoderError(
    'SANDBOX_FAILED',
    `The egress proxy failed to start: ${why}${tail(stderr)}.`,
    {
      hint: "It runs the host's Node binary inside the [docker] image, which needs a glibc Linux image such as the default safe-coder/sandbox one; `npm run build` must have produced dist/network/proxy-main.js.",
      data: { stderr },
    },
  )
}
