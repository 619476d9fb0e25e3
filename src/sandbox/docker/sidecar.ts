import path from 'node:path'
import type { Duplex } from 'node:stream'
import type Docker from 'dockerode'
import type { ContainerCreateOptions } from 'dockerode'
import type { ProxyEvent } from '../../network/types.js'
import { SafeCoderError } from '../../shared/errors.js'
import { StreamDemuxer } from './demux.js'
import { engineMessage } from './engine-errors.js'
import { buildHelperSpec } from './helper-container.js'
import type { ProxyAssets } from './proxy-assets.js'
import { ProxyEventReader } from './proxy-events.js'

/** Where the sandbox finds its proxy: a network alias on the internal network, and a port. */
export const PROXY_ALIAS = 'egress'
export const PROXY_PORT = 3128

const POLICY_DIR_IN = '/etc/safe-coder/policy'
const STDERR_TAIL = 4096

export interface SidecarInput {
  name: string
  /** The id of Safe Coder's proxy image (`ensureProxyImage`). */
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

/** The proxy container: one of Safe Coder's helpers, with the policy folder read-only. */
export function buildSidecarSpec(input: SidecarInput): ContainerCreateOptions {
  const spec = buildHelperSpec({
    name: input.name,
    image: input.image,
    labels: input.labels,
    assets: input.assets,
    main: 'network/proxy-main.js',
    env: {
      SAFE_CODER_POLICY_FILE: `${POLICY_DIR_IN}/${path.basename(input.policyFile)}`,
      SAFE_CODER_PROXY_PORT: String(PROXY_PORT),
    },
    network: input.internalNetwork,
    // The folder, not the file: the host replaces the file by rename, which a file mount misses.
    mounts: [
      {
        Type: 'bind',
        Source: path.dirname(input.policyFile),
        Target: POLICY_DIR_IN,
        ReadOnly: true,
      },
    ],
    cpus: input.cpus,
    memoryMb: 256,
    runtime: input.runtime,
  })
  return {
    ...spec,
    NetworkingConfig: {
      EndpointsConfig: { [input.internalNetwork]: { Aliases: [PROXY_ALIAS] } },
    },
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
      hint: "It runs the host's Node binary in Safe Coder's own proxy image: `npm run build` must have produced dist/network/proxy-main.js.",
      data: { stderr },
    },
  )
}
